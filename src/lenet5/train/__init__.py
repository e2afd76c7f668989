"""Training: the epoch loop, losses, checkpoints and the run directory."""
