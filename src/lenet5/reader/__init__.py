"""Reading written numbers: segmentation, the graph and its best path, and what trains the reader."""
