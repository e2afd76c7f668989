"""Which epoch a run keeps: decided on the validation split alone, never the test split."""

from __future__ import annotations

from typing import Any

SELECT_BY = ("cost", "accuracy")


def is_better(row: dict[str, Any], best: dict[str, Any] | None, select_by: str) -> bool:
    """Whether epoch `row` beats the kept epoch `best` (None: nothing kept yet).

    "cost": lower validation cost wins; a tie keeps the earlier epoch. "accuracy": higher
    validation accuracy wins, ties broken by lower validation cost, then the earlier epoch.
    "lines" (the line passes of lenet5.reader.line_training): more validation lines read right
    wins, ties broken by the lower criterion on them, then the earlier epoch."""
    if best is None:
        return True
    if select_by == "lines":
        key = (-row["val_line_accuracy"], row["val_line_cost"])
        return key < (-best["val_line_accuracy"], best["val_line_cost"])
    if select_by == "accuracy":
        key = (-row["val_accuracy"], row["val_cost"])
        return key < (-best["val_accuracy"], best["val_cost"])
    return row["val_cost"] < best["val_cost"]
