"""The shared parts of the reproduction scripts: the spread they report and their command line."""

import copy
import importlib
import json
import subprocess
import sys

import numpy as np
import pytest
from absl import flags

from jaxtricks.experiments.common import fit_validated, mean_std, sample_std
from jaxtricks.training import fit, load_config

SCRIPTS = ("bag_of_tricks", "data_efficient", "distillation", "imbalance", "infogan", "mmoe", "relational",
           "selfsup_open_set", "transfer_and_self_distillation")


def test_mean_std_is_the_sample_spread_and_a_single_run_has_none():
  assert mean_std([0.90, 1.00]) == "95.0 ± 7.1"  # ddof = 1: 7.07; ddof = 0 would give 5.0.
  assert mean_std([0.9]) == "90.0" and sample_std([0.9]) == 0.0
  assert mean_std([-0.01, 0.03], signed=True) == "+1.0 ± 2.8"
  assert mean_std([0.012345, 0.012345], scale=1, digits=4) == "0.0123 ± 0.0000"


def test_every_script_imports_next_to_the_others_without_defining_flags():
  for name in SCRIPTS:
    importlib.import_module(f"jaxtricks.experiments.{name}")
  assert not {"seeds", "out", "smoke"} & set(flags.FLAGS)


def test_a_value_outside_the_choices_is_named_before_anything_runs(tmp_path):
  out = subprocess.run([sys.executable, "-m", "jaxtricks.experiments.imbalance", "--methods=erm,focal",
                        f"--out={tmp_path / 'run'}"], capture_output=True, text=True, timeout=300)
  assert out.returncode != 0
  assert "--methods: unknown ['focal']; allowed:" in out.stderr
  assert not (tmp_path / "run").exists()
  out = subprocess.run([sys.executable, "-m", "jaxtricks.experiments.imbalance", "--methods=erm",
                        "--methods=cb_focal", f"--out={tmp_path / 'run'}"], capture_output=True, text=True,
                       timeout=300)  # absl keeps only the last of a repeated list flag: refused instead.
  assert out.returncode != 0 and "--methods was given more than once" in out.stderr
  assert not (tmp_path / "run").exists()


def test_fit_validated_selects_on_validation_and_reports_the_same_model_on_test(tmp_path):
  config = load_config("digits_lt_erm", "smoke,imbalance=10")
  config.progress = False
  validation, test = fit_validated(config, tmp_path / "validated", val_fraction=0.2)
  direct = copy.deepcopy(config)
  direct.dataset.val_fraction = 0.2
  fit(direct, tmp_path / "direct")  # The same training split, evaluated on test only.
  # The resumed run trained nothing more: its test metrics are those of the directly trained model.
  assert test["step"] == validation["step"]
  assert test["eval/balanced_accuracy"] == pytest.approx(
      json.loads((tmp_path / "direct" / "final_metrics.json").read_text())["eval/balanced_accuracy"])
  assert validation["eval/balanced_accuracy"] != test["eval/balanced_accuracy"]


def test_a_finished_run_is_read_back_and_a_changed_config_trains(tmp_path, monkeypatch):
  from jaxtricks.experiments import common
  config = load_config("digits_lt_erm", "smoke,imbalance=10")
  config.progress = False
  validation, test = common.fit_validated(config, tmp_path / "run", val_fraction=0.2)

  def no_training(*args, **kwargs):
    raise AssertionError("a finished run was trained again")
  monkeypatch.setattr(common, "fit", no_training)
  assert common.fit_validated(config, tmp_path / "run", val_fraction=0.2) == (validation, test)
  other = copy.deepcopy(config)
  other.seed = 1  # Another run in the same workdir: it must train, not return the stored metrics.
  with pytest.raises(AssertionError, match="trained again"):
    common.fit_and_release(other, tmp_path / "run")


def test_a_finished_run_on_given_datasets_is_read_only_where_the_caller_vouches(tmp_path, monkeypatch):
  from jaxtricks.data import build_datasets
  from jaxtricks.experiments import common
  config = load_config("digits_lt_erm", "smoke,imbalance=10")
  config.progress = False
  train, test = build_datasets(config.dataset)
  datasets = (train.subset(np.arange(200)), test)
  final = common.fit_and_release(config, tmp_path / "run", datasets=datasets, datasets_from_config=True)

  def no_training(*args, **kwargs):
    raise AssertionError("a finished run was trained again")
  monkeypatch.setattr(common, "fit", no_training)
  assert common.fit_and_release(config, tmp_path / "run", datasets=datasets, datasets_from_config=True,
                                workdir_names_datasets=True) == final
  with pytest.raises(AssertionError, match="trained again"):  # Other data may hide behind the same config.
    common.fit_and_release(config, tmp_path / "run", datasets=datasets, datasets_from_config=True)
