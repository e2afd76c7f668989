"""Pictures of a run: learning curves, confusion matrices, and (later) the HTML report."""
