"""Running a model folder (Paddle Inference, ONNX Runtime): one digit per picture, a folder scored on MNIST."""
