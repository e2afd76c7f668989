"""The HTTP API and the browser demo (`lenet5 serve`)."""
