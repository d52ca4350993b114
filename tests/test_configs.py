"""Every config in configs/ runs end to end in its :smoke variant (TFDS ones on mock data)."""

import contextlib
import hashlib

import jax
import numpy as np
import pytest

from jaxtricks.active.loop import run as run_active_learning
from jaxtricks.training import fit
from jaxtricks.training.config import load_config
from tests.conftest import REPO, mock_tfds

CONFIGS = sorted((REPO / "configs").glob("[!_]*.py"))


def test_configs_exist():
  assert {"default", "digits_baseline", "cifar10_resnet32", "cifar10_lt_resnet32"} <= {
      p.stem for p in CONFIGS}


@pytest.fixture(autouse=True)
def _release_compiled_programs():
  """Every config compiles programs of its own: drop them after each (see tests/conftest.py)."""
  yield
  jax.clear_caches()


@pytest.fixture(scope="module")
def shared_run_dir(tmp_path_factory):
  """One run directory per distinct teacher / source config: trained by the first config that
  needs it, then only loaded (a finished run) by the others."""
  root = tmp_path_factory.mktemp("shared")
  return lambda config: str(root / hashlib.sha1(config.to_json(sort_keys=True).encode()).hexdigest())


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_full_config_loads_and_smoke_variant_trains(path, tmp_path, shared_run_dir):
  full = load_config(path)
  smoke = load_config(path, "smoke")
  smoke.progress = False
  if "active" in smoke:  # An active-learning config: python -m jaxtricks.active.
    assert smoke.active.rounds < full.active.rounds
    records = run_active_learning(smoke, tmp_path)
    assert len(records) == smoke.active.seeds * len(smoke.active.strategies) * (smoke.active.rounds + 1)
    assert (tmp_path / "learning_curves.png").exists()
    return
  assert smoke.train.num_epochs < full.train.num_epochs
  for block in ("distill", "semi"):
    if block in smoke and smoke[block].teacher:
      smoke[block].teacher.progress = False
      smoke[block].teacher_workdir = shared_run_dir(smoke[block].teacher)
  if "constructed" in smoke and smoke.constructed.source:
    smoke.constructed.source.progress = False
    smoke.constructed.source_workdir = shared_run_dir(smoke.constructed.source)
  if smoke.transfer.pretrain:
    smoke.transfer.pretrain.progress = False
    smoke.transfer.init_from = shared_run_dir(smoke.transfer.pretrain)
  with mock_tfds(num_examples=1500) if smoke.dataset.source == "tfds" else contextlib.nullcontext():
    final, state = fit(smoke, tmp_path)
  assert final["step"] == int(state.step) > 0
  if smoke.task in ("infomax", "multitask"):
    assert np.isfinite(final["eval/infomax_loss" if smoke.task == "infomax" else "eval/loss"])
  else:
    metric = {"metric_learning": "eval/recall@1", "open_set": "eval/auroc",
              "relational": "eval/accuracy_relational",
              "infogan": "eval/code_accuracy_generated"}.get(smoke.task, "eval/balanced_accuracy")
    assert 0.0 <= final[metric] <= 1.0
  assert (tmp_path / "final_metrics.json").exists()
