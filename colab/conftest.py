"""pytest runs the notebooks (nbmake) as on a user's runtime: the test suite's XLA settings (8 forced
CPU devices, fewer optimisations; tests/conftest.py) are not passed on to their kernels."""

import os

SUITE_ONLY = ("XLA_FLAGS", "JAX_DISABLE_MOST_OPTIMIZATIONS")
_saved: dict[str, str] = {}


def pytest_runtest_setup(item):
  for key in SUITE_ONLY:
    if key in os.environ:
      _saved[key] = os.environ.pop(key)


def pytest_runtest_teardown(item):
  os.environ.update(_saved)
  _saved.clear()
