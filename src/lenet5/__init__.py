"""LeNet-5 handwritten digit recognition on PaddlePaddle 3.x."""

__version__ = "0.1.0"
