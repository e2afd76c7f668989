"""What lives on disk: run directories, their configs and checkpoints, model folders and their
metadata, and the guards on every path a command writes. The bottom layer that reads and
writes files for every other package; it imports none of them."""
