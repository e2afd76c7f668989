"""The networks, one file each, found by name through `create_model`."""

from lenet5.models.registry import create_model, get_spec, list_models, network_for

__all__ = ["create_model", "get_spec", "list_models", "network_for"]
