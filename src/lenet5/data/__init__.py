"""MNIST on disk (the IDX format, checksums, download), splits, normalisation, batches, distortions."""
