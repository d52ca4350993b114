"""Every config in configs/ runs end to end in its :smoke variant (TFDS ones on mock data)."""

import contextlib
import hashlib

import jax
import numpy as np
import pytest

from jaxtricks.active.loop import run as run_active_learning
from jaxtricks.data import build_datasets
from jaxtricks.inference import load_run
from jaxtricks.losses.open_set import open_set_scores
from jaxtricks.metrics.open_set import open_set_auroc
from jaxtricks.metrics.retrieval import recall_at_k
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
  if path.stem in PREDICTED:
    _check_predictions(tmp_path, smoke, final)


# One config per family and per kind of classification network or run (GoogLeNet's heads, M2m, KD,
# adversarial training, generations, a streamed folder): load_run(...).predict reproduces the run's
# own evaluation from the outputs it returns.
PREDICTED = ("digits_student", "digits_googlenet", "digits_lt_m2m", "digits_adversarial",
             "digits_self_distill", "digits_semi", "digits_sla", "digits_open_set", "digits_metric_student",
             "digits_dim", "synthetic_mmoe", "sort_of_clevr_rn", "digits_infogan", "imagenet_resnet50")


def _check_predictions(workdir, config, final):
  if config.task == "infogan":
    with pytest.raises(ValueError, match="generates images"):
      load_run(workdir).predict(np.zeros((1, 8, 8, 1), np.float32))
    return
  run = load_run(workdir)
  _, test = build_datasets(config.dataset)
  if config.dataset.source == "folder":  # Streamed: the files, decoded as the evaluation did.
    outputs = run.predict_files(test.source.paths)
  elif config.task == "relational":
    outputs = run.predict(test.images, test.extras["questions"])
  else:
    outputs = run.predict(test.images)
  labels = test.labels
  if config.task == "metric_learning":
    assert recall_at_k(outputs, labels, (1,))[1] == final["eval/recall@1"]
  elif config.task == "infomax":
    assert outputs.shape == (len(test), config.model.embedding_dim) and np.isfinite(outputs).all()
  elif config.task == "multitask":
    mse = ((outputs - test.extras["targets"]) ** 2).mean(0)
    np.testing.assert_allclose(mse, [final["eval/mse_0"], final["eval/mse_1"]], rtol=1e-5)
  elif config.task == "relational":
    assert np.mean(outputs.argmax(-1) == test.extras["answers"]) == pytest.approx(final["eval/accuracy"])
  elif config.task == "open_set":
    known = labels < run.num_classes
    assert np.mean(outputs[known].argmax(1) == labels[known]) == final["eval/accuracy"]
    scores = np.asarray(open_set_scores(outputs, loss=config.open_set.loss))
    assert open_set_auroc(scores[known], scores[~known]) == final["eval/auroc"]
  else:
    assert np.mean(outputs.argmax(1) == labels) == final["eval/accuracy"]
