"""The HTML report of a run (`lenet5 report`)."""
