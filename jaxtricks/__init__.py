"""jaxtricks: well-known deep-learning training tricks as pure JAX functions and Flax modules."""

__version__ = "0.1.0"
