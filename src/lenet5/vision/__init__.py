"""Pictures: decoding any image file, finding the ink on a page, rendering a digit as MNIST."""
