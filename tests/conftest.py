"""Test setup: 8 fake CPU devices (set before JAX is imported) and the golden-file helpers."""

import os
import tempfile

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_force_host_platform_device_count=8").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")  # Faster CPU compiles for tiny test nets.
# JAX's persistent compilation cache: a program compiled once (by any test, a subprocess of the suite
# or a notebook's kernel; the environment passes it on) is loaded, not compiled, when it comes back,
# e.g. after the suite drops its compiled programs (below) or in the next run.
_CACHE = f"jaxtricks-tests-{os.environ.get('USER', 'user')}"
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(tempfile.gettempdir(), _CACHE, "jax"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.1")

import fnmatch  # noqa: E402
import gc  # noqa: E402
import inspect  # noqa: E402
from pathlib import Path  # noqa: E402

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

GOLDEN = Path(__file__).parent / "golden"
REPO = Path(__file__).parents[1]


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
  """Drops every test module's compiled programs when it ends. Each XLA:CPU executable holds memory
  mappings of its own; the whole suite's would pass Linux's default limit of 65,530 per process
  (vm.max_map_count), and XLA then crashes compiling the next program."""
  yield
  jax.clear_caches()
  gc.collect()


GOLDEN_MANIFEST = GOLDEN / "MANIFEST.txt"  # Every golden case, as <family>/<file>: what the tests must find.


def golden_manifest() -> list[str]:
  return [line for line in GOLDEN_MANIFEST.read_text().split() if line]


def golden_cases(family: str, pattern: str) -> list:
  """pytest params for the ``tests/golden/<family>/<pattern>`` cases of ``MANIFEST.txt``; a listed file
  that is missing, or a file on disk that is not listed, fails collection with its name."""
  listed = sorted(e for e in golden_manifest() if fnmatch.fnmatchcase(e, f"{family}/{pattern}"))
  found = sorted(f"{family}/{p.name}" for p in (GOLDEN / family).glob(pattern))
  missing, extra = sorted(set(listed) - set(found)), sorted(set(found) - set(listed))
  assert not missing and not extra, (f"golden cases of {family}/{pattern}: missing {missing}, not in "
                                     f"tests/golden/MANIFEST.txt {extra}")
  assert listed, f"no golden cases match {family}/{pattern}"
  return [pytest.param(GOLDEN / e, id=Path(e).stem) for e in listed]


def load_golden(path) -> dict:
  with np.load(path) as d:
    return {k: d[k] for k in d.files}


# Runs that take a minute or more each and share nothing: under pytest-xdist each is a group of its
# own and starts first, so the two workers share them instead of one ending alone with them.
ON_THEIR_OWN = ("tests/test_notebooks.py::test_notebook_runs_from_a_copy_outside_the_repository",)


def _uses_golden_files(item) -> bool:
  """Whether test ``item`` compares with ``tests/golden/`` (a golden case as its parameter, or golden
  files read in its body): the parity tests that .ci/run repeats under other OpenBLAS kernels, since
  another CPU sums a dot product in another order."""
  params = getattr(getattr(item, "callspec", None), "params", {})
  if any(isinstance(v, Path) and GOLDEN in v.parents for v in params.values()):
    return True
  function = getattr(item, "function", None)
  try:
    source = inspect.getsource(function) if function else ""
  except (OSError, TypeError):
    return False
  return any(name in source for name in ("load_golden(", "golden_cases(", "GOLDEN /"))


def pytest_collection_modifyitems(session, config, items):
  if not items:
    raise pytest.UsageError("no tests were collected: check testpaths and file names")
  # --dist loadgroup: a file's tests stay on one worker (what they share, a trained teacher or a
  # compiled step, is built once), except the ones ON_THEIR_OWN.
  for item in items:
    if _uses_golden_files(item):
      item.add_marker(pytest.mark.golden)
    alone = item.nodeid.startswith(ON_THEIR_OWN)
    item.add_marker(pytest.mark.xdist_group(item.nodeid if alone else item.nodeid.split("::")[0]))
  items.sort(key=lambda item: not item.nodeid.startswith(ON_THEIR_OWN))  # Stable: otherwise as collected.


def crash_at(step: int):
  """A context in which the training stream raises ``RuntimeError("simulated crash")`` when batch
  ``step`` (0-based) is asked for: a run killed mid-way, after the checkpoints before that step."""
  from unittest import mock

  from jaxtricks.data import TrainBatches
  original = TrainBatches.batch

  def batch(self, index):
    if index == step:
      raise RuntimeError("simulated crash")
    return original(self, index)
  return mock.patch.object(TrainBatches, "batch", batch)


def mock_tfds(num_examples: int):
  """``tfds.testing.mock_data`` of ``num_examples`` random records per split, the builds reported in
  ArrayRecord format (what ``tfds.data_source`` reads; TFDS's bundled metadata says TFRecord)."""
  import contextlib
  from unittest import mock

  tfds = pytest.importorskip("tensorflow_datasets")
  stack = contextlib.ExitStack()
  stack.enter_context(tfds.testing.mock_data(num_examples=num_examples))
  stack.enter_context(mock.patch.object(
      tfds.core.DatasetInfo, "file_format", new_callable=mock.PropertyMock,
      return_value=tfds.core.file_adapters.FileFormat.ARRAY_RECORD))
  return stack
