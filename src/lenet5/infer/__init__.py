"""Using a trained model: exported model folders and the backends that run them."""
