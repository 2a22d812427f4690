"""metagrad: theory and practice of gradient-based meta-learning.

Importing metagrad turns on JAX's 64-bit mode (``jax_enable_x64``): theory functions and
simulators compute in float64. Neural networks in :mod:`metagrad.models` create float32
parameters explicitly, so training speed is unaffected. Set ``METAGRAD_X64=0`` before importing
to keep JAX's default 32-bit mode (theory results then lose precision).
"""

from metagrad._env import enable_x64_from_env

__version__ = "0.1.0"

enable_x64_from_env()

__all__ = ["__version__"]
