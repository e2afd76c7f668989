"""Model folders made from trained networks: the saved graph, ONNX, averages of several runs, cards."""
