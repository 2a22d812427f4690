"""metagrad.models: equinox networks mapping a batch `[n, ...]` to `[n, out]`, with a `head`."""

from metagrad.models._mlp import MLP as MLP

__all__ = ["MLP"]
