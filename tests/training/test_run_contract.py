"""The run contract: a run does what it was told or says why before anything is written. Locked configs
(in Python as on the command line), a workdir that keeps its config and refuses another one, one run per
workdir, options that act or are refused on a user's own data and model."""

import hashlib
import importlib
import json
import os
import signal
import subprocess
import sys
import textwrap

import flax.linen as nn
import jax
import ml_collections
import numpy as np
import pytest

from jaxtricks.data import ArrayDataset
from jaxtricks.training import base_config, fit, load_config
from jaxtricks.training.config import recipes
from jaxtricks.training.trainer import maybe_initialize_distributed
from jaxtricks.training.workdir import LOCK, hold
from tests.conftest import REPO
from tests.training.test_fit import small_digits


def _tiny_config():
  """SmallCNN of width 4, one epoch of 8 steps on 512 digits: a run in a few seconds."""
  c = base_config()
  c.model.name = "cnn"
  c.model.cnn.width = 4
  c.train.update(batch_size=64, num_epochs=1)
  c.update(eval_every_epochs=1, log_every_steps=4, checkpoint_every_steps=4, progress=False)
  return c


@pytest.fixture(scope="module")
def digits():
  return small_digits()


def _record(workdir) -> dict[str, str]:
  """Every file of a run's record with a digest of its bytes."""
  return {str(p.relative_to(workdir)): hashlib.sha256(p.read_bytes()).hexdigest()
          for p in sorted(workdir.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished(tmp_path_factory, digits):
  """A finished run of :func:`_tiny_config`, and its record."""
  workdir = tmp_path_factory.mktemp("finished")
  fit(_tiny_config(), workdir, datasets=digits)
  return workdir, _record(workdir)


@pytest.mark.parametrize("name", sorted(recipes()))
def test_every_recipe_comes_back_locked_and_a_misspelt_key_names_the_closest(name):
  config = load_config(name, "smoke")
  assert config.is_locked
  with pytest.raises(AttributeError, match='Did you mean "seed"'):
    config.sead = 1
  with pytest.raises(AttributeError, match='Did you mean "num_epochs"'):
    config.train.num_epoch = 50


def test_an_unlocked_config_with_a_typo_is_refused_by_fit_naming_the_closest_key(tmp_path, digits):
  config = _tiny_config()
  with config.unlocked():
    config.train.num_epoch = 50
  with pytest.raises(ValueError, match=r"config key train.num_epoch is not an option of "
                                       r"task='classification': did you mean train.num_epochs\?"):
    fit(config, tmp_path / "run", datasets=digits)
  assert not (tmp_path / "run").exists()
  hand_built = ml_collections.ConfigDict(_tiny_config().to_dict())  # Unlocked, no base_config.
  del hand_built.train["num_epochs"]
  with pytest.raises(ValueError, match=r"config has no train.num_epochs"):
    fit(hand_built, tmp_path / "run", datasets=digits)


@pytest.mark.parametrize("change, key", [
    (lambda c: c.update(seed=1), "seed"),
    (lambda c: c.model.cnn.update(width=8), "model.cnn.width"),
    (lambda c: c.train.update(num_epochs=3), "train.num_epochs"),
    (lambda c: c.loss.update(type="focal"), "loss.type"),
])
def test_a_workdir_refuses_another_config_naming_the_first_difference_and_keeps_its_record(
    finished, digits, change, key):
  workdir, record = finished
  config = _tiny_config()
  change(config)
  saved = json.loads((workdir / "config.json").read_text())
  with pytest.raises(ValueError, match=rf"workdir .* holds a run with {key}=.*, this config has {key}=.*: "
                                       r"use a new --workdir"):
    fit(config, workdir, datasets=digits)
  assert _record(workdir) == record  # Byte for byte: config.json, checkpoints, metrics, plots.
  assert json.loads((workdir / "config.json").read_text()) == saved


def test_the_keys_that_may_change_on_resume_do_not_stop_it(tmp_path, digits):
  config = _tiny_config()
  fit(config, tmp_path, datasets=digits)
  config.update(log_every_steps=2, eval_every_epochs=2, checkpoint_every_steps=3, eval_batch_size=64)
  final, state = fit(config, tmp_path, datasets=digits)  # A finished run: evaluated once more.
  assert final["step"] == int(state.step) == 8
  assert json.loads((tmp_path / "config.json").read_text())["log_every_steps"] == 2


class OwnNet(nn.Module):
  """A user's model whose width lives in code, not in the config."""
  num_classes: int
  width: int = 4

  @nn.compact
  def __call__(self, x, *, train: bool):
    x = nn.relu(nn.Dense(OwnNet.code_width)(x.reshape(x.shape[0], -1)))
    return nn.Dense(self.num_classes, name="head")(x)


OwnNet.code_width = 8


def test_a_checkpoint_that_does_not_fit_the_model_names_the_array_not_orbax(tmp_path, digits, monkeypatch):
  config = _tiny_config()
  config.model.name = "tests.training.test_run_contract:OwnNet"
  fit(config, tmp_path, datasets=digits)
  record = _record(tmp_path)
  monkeypatch.setattr(OwnNet, "code_width", 16)  # The user's code changed; the config did not.
  jax.clear_caches()  # As in a new process: nothing traced with the old code is reused.
  with pytest.raises(ValueError, match=r"the checkpoint in .* does not fit this run: params/module/Dense_0/"
                                       r"bias has shape \(8,\) there, \(16,\) here; use a new --workdir"):
    fit(config, tmp_path, datasets=digits)
  assert _record(tmp_path) == record


def test_two_runs_cannot_share_a_workdir_and_a_dead_holders_lock_is_taken_over(tmp_path, digits):
  with hold(tmp_path):
    with pytest.raises(ValueError, match=rf"workdir .* is in use by pid {os.getpid()} on .* \(its "
                                         rf"{LOCK}\); two runs cannot share a workdir"):
      fit(_tiny_config(), tmp_path, datasets=digits)
  assert not (tmp_path / "config.json").exists()
  holder = subprocess.Popen(
      [sys.executable, "-c", textwrap.dedent(f"""
          import time
          from jaxtricks.training.workdir import hold
          with hold({str(tmp_path)!r}):
            print("held", flush=True)
            time.sleep(600)""")], cwd=REPO, stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(ValueError, match=rf"is in use by pid {holder.pid} on "):
      fit(_tiny_config(), tmp_path, datasets=digits)
  finally:
    holder.send_signal(signal.SIGKILL)
    holder.wait()
  assert (tmp_path / LOCK).exists()  # Left behind by the killed holder; its OS lock died with it.
  final, _ = fit(_tiny_config(), tmp_path, datasets=digits)
  assert final["step"] == 8 and not (tmp_path / LOCK).exists()


@pytest.mark.parametrize("flags", [dict(coordinator_address="localhost:1234", num_processes=2,
                                        process_id=1), dict(num_processes=2)])
def test_multi_process_flags_act_without_enabled(monkeypatch, flags):
  called = []
  monkeypatch.setattr(jax.distributed, "is_initialized", lambda: False)
  monkeypatch.setattr(jax.distributed, "initialize", lambda **kwargs: called.append(kwargs))
  config = base_config()
  config.distributed.update(**flags)
  maybe_initialize_distributed(config)
  expected = flags if "coordinator_address" in flags else {}
  assert called == [expected]
  called.clear()
  maybe_initialize_distributed(base_config())  # Nothing asked: a one-process run.
  assert called == []


def test_augmentation_on_feature_rows_is_refused_naming_the_option(tmp_path):
  rng = np.random.default_rng(0)
  rows = ArrayDataset(rng.normal(size=(128, 16)).astype(np.float32), rng.integers(0, 4, 128), 4)
  config = _tiny_config()
  config.model.name = "mlp"
  config.augment.crop_padding = 4
  with pytest.raises(ValueError, match=r"augment.crop_padding=4 augments \[N, H, W, C\] images; this run's "
                                       r"training inputs are rows of shape \(16,\)"):
    fit(config, tmp_path, datasets=(rows, rows))
  config.augment.crop_padding = 0
  final, _ = fit(config, tmp_path, datasets=(rows, rows))
  assert final["step"] == 2


@pytest.mark.parametrize("key, value", [("imbalance_factor", 10.0), ("train_classes", (0, 1)),
                                        ("val_fraction", 0.1), ("test_classes", (3,))])
def test_dataset_options_that_fit_would_not_apply_to_given_datasets_are_refused(tmp_path, digits, key,
                                                                                value):
  config = _tiny_config()
  config.dataset[key] = value
  with pytest.raises(ValueError, match=rf"dataset.{key}=.* acts when the data set is built from the "
                                       r"config; the datasets given to fit are used as they are"):
    fit(config, tmp_path, datasets=digits)
  assert list(tmp_path.iterdir()) == []


class OwnHeadNet(nn.Module):
  """A user's model that declares the prior-bias head option."""
  num_classes: int
  prior_bias: bool = False

  @nn.compact
  def __call__(self, x, *, train: bool):
    from jaxtricks.models import prior_bias_init
    init = prior_bias_init(self.num_classes) if self.prior_bias else nn.initializers.zeros
    return nn.Dense(self.num_classes, bias_init=init, name="head")(x.reshape(x.shape[0], -1))


def test_a_recipes_head_option_acts_on_a_model_that_declares_it_and_is_refused_otherwise(tmp_path):
  config = load_config("digits_lt_cb_focal", "smoke")
  assert config.model.cnn.prior_bias
  config.model.name = "tests.training.test_run_contract:OwnHeadNet"
  config.progress = False
  _, state = fit(config, tmp_path / "declared")
  bias = np.asarray(jax.device_get(state.params["module"]["head"]["bias"]))
  assert bias.min() < -1  # −log(C−1) moved a little by a few steps of training, not zeros.
  config.model.name = "tests.training.test_run_contract:OwnNet"
  with pytest.raises(ValueError, match=r"model.cnn.prior_bias=True is set \(the recipe's loss relies on "
                                       r"it\), but model.name='tests.training.test_run_contract:OwnNet' "
                                       r"has no prior_bias field"):
    fit(config, tmp_path / "undeclared")


@pytest.fixture
def object_store(monkeypatch):
  """``gs://`` served by an in-memory fsspec file system that, like an object store, cannot append."""
  import fsspec
  from etils.epath import backend
  from fsspec.implementations.memory import MemoryFileSystem

  class Bucket(MemoryFileSystem):
    protocol = ("gs", "gcs")
    store, pseudo_dirs = {}, [""]

    def __init__(self, *args, finalize_on_close=True, **kwargs):
      super().__init__(*args, **kwargs)

    def _open(self, path, mode="rb", **kwargs):
      if "a" in mode:
        raise OSError(f"{path}: an object store has no append")
      return super()._open(path, mode, **kwargs)

  fsspec.register_implementation("gcs", Bucket, clobber=True)
  backend.fsspec_backend._get_filesystem.cache_clear()
  yield Bucket
  importlib.import_module("fsspec.registry")._registry.pop("gcs", None)  # Not the fsspec.registry dict.
  backend.fsspec_backend._get_filesystem.cache_clear()


class MemoryCheckpoints:
  """Orbax writes arrays through TensorStore's own cloud drivers (no file-system hook to point at
  memory): this stand-in keeps states in memory and records the directory the run gave it."""
  directories, states = [], {}

  def __init__(self, directory, *, max_to_keep, parallel):
    self.directory, self.parallel = directory, parallel
    MemoryCheckpoints.directories.append(str(directory))

  def latest_step(self):
    steps = self.states.get(str(self.directory), {})
    return max(steps) if steps else None

  def save(self, step, state):
    self.states.setdefault(str(self.directory), {})[step] = jax.device_get(state)

  def restore(self, like):
    return self.parallel.replicate(self.states[str(self.directory)][self.latest_step()])

  def close(self):
    pass


def test_a_url_workdir_goes_through_epath_not_into_a_local_folder(tmp_path, digits, monkeypatch,
                                                                  object_store):
  from etils import epath

  from jaxtricks.training import trainer
  monkeypatch.setattr(trainer, "Checkpoints", MemoryCheckpoints)
  monkeypatch.chdir(tmp_path)
  final, _ = fit(_tiny_config(), "gs://bucket/run", datasets=digits)
  assert final["workdir"] == "gs://bucket/run" and list(tmp_path.iterdir()) == []  # No ./gs:/bucket/run.
  run = epath.Path("gs://bucket/run")
  for name in ("config.json", "metrics.jsonl", "final_metrics.json", "curves.png", "per_class_recall.png"):
    assert (run / name).exists(), name
  assert [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()
          if "train/loss" in line] == [4, 8]
  assert list((run / "tb").glob("events.out.tfevents.*"))
  assert MemoryCheckpoints.directories == ["gs://bucket/run/checkpoints"]
  config = _tiny_config()
  config.seed = 1
  with pytest.raises(ValueError, match=r"workdir 'gs://bucket/run' holds a run with seed=0"):
    fit(config, "gs://bucket/run", datasets=digits)
  with pytest.raises(ValueError, match=r"dataset.path='gs://bucket/images': this is read and written on a "
                                       r"local or mounted file system"):
    config.dataset.update(source="folder", path="gs://bucket/images")
    fit(config, "gs://bucket/other")
