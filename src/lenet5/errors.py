"""The one exception type the CLI turns into a one-line message instead of a traceback."""


class UserError(Exception):
    """Bad input from the user: a file, a flag, a directory. The message is shown as is."""


class TrainingInterrupted(Exception):
    """Ctrl-C during training, raised after the last completed epoch is safely on disk."""

    def __init__(self, run_dir: object, completed_epochs: int) -> None:
        super().__init__(f"interrupted after {completed_epochs} completed epoch(s)")
        self.run_dir = run_dir
        self.completed_epochs = completed_epochs
