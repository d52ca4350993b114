"""The shared parts of the reproduction scripts: the spread they report and their command line."""

import importlib
import subprocess
import sys

from absl import flags

from jaxtricks.experiments.common import mean_std, sample_std

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
