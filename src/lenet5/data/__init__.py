"""MNIST on disk: the IDX format, checksums, download, splits, normalisation and batching."""
