"""Every config in configs/ runs end to end in its :smoke variant (TFDS ones on mock data)."""

import contextlib

import pytest

from jaxtricks.training import fit
from jaxtricks.training.config import load_config
from tests.conftest import REPO

CONFIGS = sorted((REPO / "configs").glob("*.py"))


def test_configs_exist():
  assert {"default", "digits_baseline", "cifar10_resnet32", "cifar10_lt_resnet32"} <= {
      p.stem for p in CONFIGS}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_full_config_loads_and_smoke_variant_trains(path, tmp_path):
  full = load_config(path)
  smoke = load_config(path, "smoke")
  assert smoke.train.num_epochs < full.train.num_epochs
  smoke.progress = False
  mock = contextlib.nullcontext()
  if smoke.dataset.source == "tfds":
    tfds = pytest.importorskip("tensorflow_datasets")
    mock = tfds.testing.mock_data(num_examples=1500)
  with mock:
    final, state = fit(smoke, tmp_path)
  assert final["step"] == int(state.step) > 0
  assert 0.0 <= final["eval/balanced_accuracy"] <= 1.0
  assert (tmp_path / "metrics.jsonl").exists()
