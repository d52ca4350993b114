"""End-to-end behaviour of the fit loop: artifacts, resume after a crash, NaN stop, bad input."""

import json
import subprocess
import sys

import chex
import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from jaxtricks.data import ArrayDataset, TrainBatches, load_digits
from jaxtricks.training import base_config, fit
from tests.conftest import REPO, crash_at


def _small_config():
  """SmallCNN (with BatchNorm) on 8×8 digits, every trick of the recipe switched on."""
  c = base_config()
  c.model.name = "cnn"
  c.model.cnn.update(width=4, dropout_rate=0.1)
  c.augment.crop_padding = 1
  c.optim.update(nesterov=True, no_bias_decay=True, schedule="cosine", warmup_epochs=1, lr=0.4)
  c.train.update(batch_size=64, num_epochs=2, label_smoothing=0.1, mixup_alpha=0.2, mixup_off_epochs=1)
  c.eval_every_epochs = 1
  c.log_every_steps = 4
  c.checkpoint_every_steps = 5
  c.progress = False
  return c


def small_digits():
  train, test = load_digits()
  return ArrayDataset(train.images[:512], train.labels[:512], 10), test


@pytest.fixture(scope="module")
def digits():
  return small_digits()


def test_fit_writes_every_artifact(tmp_path, digits):
  final, state = fit(_small_config(), tmp_path, datasets=digits)
  assert final["step"] == int(state.step) == 16
  for name in ("config.json", "metrics.jsonl", "final_metrics.json", "curves.png",
               "per_class_recall.png", "checkpoints", "tb"):
    assert (tmp_path / name).exists(), name
  records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  assert [r["step"] for r in records if "train/loss" in r] == [4, 8, 12, 16]
  assert [r["step"] for r in records if "eval/accuracy" in r] == [8, 16]
  assert 0.0 <= final["eval/balanced_accuracy"] <= 1.0
  assert len(final["eval/per_class_recall"]) == 10
  assert ocp.CheckpointManager(tmp_path / "checkpoints").all_steps() == [15, 16]


def test_crash_and_rerun_reaches_the_uninterrupted_result(tmp_path, digits):
  config = _small_config()
  _, reference = fit(config, tmp_path / "uninterrupted", datasets=digits)

  with crash_at(12), pytest.raises(RuntimeError, match="simulated crash"):
    fit(config, tmp_path / "resumed", datasets=digits)
  assert ocp.CheckpointManager(tmp_path / "resumed" / "checkpoints").latest_step() == 10

  _, resumed = fit(config, tmp_path / "resumed", datasets=digits)
  assert int(resumed.step) == 16
  chex.assert_trees_all_equal(jax.device_get(reference), jax.device_get(resumed))
  records = (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()
  steps = [json.loads(line)["step"] for line in records
           if "train/loss" in line]
  assert steps == [4, 8, 12, 16]  # Logged once each: records past the checkpoint were replaced.


def test_a_run_killed_during_an_asynchronous_save_resumes_from_the_last_complete_checkpoint(
    tmp_path, digits):
  _, reference = fit(_small_config(), tmp_path / "uninterrupted", datasets=digits)
  killed = subprocess.run([sys.executable, "-m", "tests.training.killed_save_worker", str(tmp_path / "run")],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
  assert killed.returncode == -9, killed.stderr[-3000:]
  checkpoints = tmp_path / "run" / "checkpoints"
  assert any("tmp" in p.name for p in checkpoints.iterdir())  # The step-10 save was under way.
  assert ocp.CheckpointManager(checkpoints).latest_step() == 5

  _, resumed = fit(_small_config(), tmp_path / "run", datasets=digits)
  assert int(resumed.step) == 16
  assert not any("tmp" in p.name for p in checkpoints.iterdir())
  chex.assert_trees_all_equal(jax.device_get(reference), jax.device_get(resumed))


def test_nan_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path, digits,
                                                                           monkeypatch):
  config = _small_config()
  config.checkpoint_every_steps = 4
  original = TrainBatches.batch
  def nan_image_at_step_10(self, step):  # Steps count from 1 in logs: index 9 is step 10.
    batch = original(self, step)
    if step == 9:
      batch["image"][0] = np.nan
    return batch
  monkeypatch.setattr(TrainBatches, "batch", nan_image_at_step_10)
  with pytest.raises(FloatingPointError, match=r"at step 10;.*last good checkpoint \(step 8\)"):
    fit(config, tmp_path, datasets=digits)
  assert ocp.CheckpointManager(tmp_path / "checkpoints").all_steps() == [4, 8]


@pytest.mark.parametrize("key, value, match", [
    ("task", "gan", "task must be one of"),
    ("parallel", "pjit", "parallel must be one of"),
    ("dtype", "float16", "dtype must be one of"),
    ("train.num_epochs", 0, r"train.num_epochs must be >= 1, got 0"),
    ("train.batch_size", 0, r"train.batch_size must be >= 1, got 0"),
    ("train.batch_size", 60,
     r"train.batch_size=60 must be a positive multiple of the number of devices \(8 per process × 1 "
     r"processes = 8\)"),
    ("eval_batch_size", 0, r"eval_batch_size must be >= 1, got 0"),
    ("eval_batch_size", 12, r"eval_batch_size=12 must be a positive multiple of the number of devices"),
    ("log_every_steps", 0, r"log_every_steps must be >= 1, got 0"),
    ("checkpoint_every_steps", -1, r"checkpoint_every_steps must be >= 1, got -1"),
    ("eval_every_epochs", 0, r"eval_every_epochs must be > 0, got 0"),
    ("optim.lr", -1.0, r"optim.lr must be > 0, got -1.0"),
    ("optim.lr", 0.0, r"optim.lr must be > 0, got 0.0"),
    ("optim.name", "lamb", "optim.name must be one of"),
    ("optim.schedule", "linear", "optim.schedule must be one of"),
    ("dataset.source", "mnist", "dataset.source must be one of"),
    ("dataset.imbalance_factor", 0.5, "imbalance_factor must be >= 1"),
    ("dataset.imbalance_factor", 1e6, "imbalance_factor=1000000.0 leaves an empty class"),
    ("dataset.resample", "balanced", "dataset.resample must be one of"),
    ("model.name", "vit", "model.name must be one of"),
    ("loss.type", "hinge", "loss.type must be one of"),
    ("eval_pgd.norm", "l1", "eval_pgd.norm must be one of"),
    ("m2m.noise", "gaussian", "m2m.noise must be one of"),
    ("distill.features", "logits", "distill.features must be one of"),
    ("distill.generations", 0, "distill.generations must be >= 1, got 0"),
])
def test_bad_config_values_give_clear_errors_and_write_nothing(tmp_path, key, value, match):
  config = _small_config()
  section, _, field = key.rpartition(".")
  (config[section] if section else config)[field] = value
  (tmp_path / "notes.txt").write_text("an existing workdir")
  with pytest.raises(ValueError, match=match):
    fit(config, tmp_path)
  assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("images, labels, match", [
    (np.full((4, 8, 8, 1), np.nan, np.float32), np.zeros(4, int), "images must be finite: image 0"),
    (np.zeros((4, 8, 8, 1), np.float32), np.array([0, 1, 2, 10]),
     r"labels must lie in \[0, num_classes=10\)"),
])
def test_bad_data_is_rejected_naming_what_is_wrong(images, labels, match):
  with pytest.raises(ValueError, match=match):
    ArrayDataset(images, labels, 10)


def test_an_empty_split_is_rejected(tmp_path, digits):
  train, test = digits
  with pytest.raises(ValueError, match="the test split is empty"):
    fit(_small_config(), tmp_path, datasets=(train, test.subset(np.arange(0))))


def test_bfloat16_compute_trains(tmp_path, digits):
  config = _small_config()
  config.dtype = "bfloat16"
  config.train.num_epochs = 1
  final, state = fit(config, tmp_path, datasets=digits)
  assert np.isfinite(final["eval/loss"])
  assert all(p.dtype == np.float32 for p in jax.tree.leaves(state.params))


def test_examples_per_sec_counts_training_time_only(tmp_path, digits, monkeypatch):
  """An evaluation between two logs (here made to take 2 s) does not lower the logged throughput."""
  import time

  from jaxtricks.tasks.evaluation import BatchEvaluator
  run = BatchEvaluator.run
  monkeypatch.setattr(BatchEvaluator, "run", lambda self, state: time.sleep(2) or run(self, state))
  fit(_small_config(), tmp_path, datasets=digits)  # Logs every 4 steps, evaluates after 8 and 16.
  records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  (after_eval,) = [r for r in records if r["step"] == 12 and "examples_per_sec" in r]
  assert after_eval["examples_per_sec"] > 4 * 64 / 2  # 2 s of evaluation counted: at most 128.
