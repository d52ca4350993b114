"""jaxtricks: well-known deep-learning training tricks as pure JAX functions and Flax modules.

``jaxtricks.load_run(workdir)`` opens a trained run (``jaxtricks.inference``); it is imported on first
use, so ``import jaxtricks`` stays light.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
  if name == "load_run":
    from jaxtricks.inference import load_run
    return load_run
  raise AttributeError(f"module 'jaxtricks' has no attribute {name!r}")
