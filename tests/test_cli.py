"""The command line as a user types it (README command (a), in a subprocess)."""

import json
import subprocess
import sys

from tests.conftest import REPO


def _cli(*args, cwd=REPO):
  return subprocess.run([sys.executable, "-m", "jaxtricks.training", *args], cwd=cwd,
                        capture_output=True, text=True, timeout=600)


def test_cli_trains_the_default_recipe_smoke_and_prints_final_metrics(tmp_path):
  result = _cli("--config=configs/default.py:smoke", f"--workdir={tmp_path}",
                "--config.train.num_epochs=1", "--config.progress=False")
  assert result.returncode == 0, result.stderr[-3000:]
  assert "final metrics:" in result.stdout and f"workdir: {tmp_path}" in result.stdout
  final = json.loads((tmp_path / "final_metrics.json").read_text())
  assert final["step"] > 0 and 0.0 <= final["eval/balanced_accuracy"] <= 1.0
  saved = json.loads((tmp_path / "config.json").read_text())
  assert saved["train"]["num_epochs"] == 1 and saved["model"]["depth"] == 8


def test_config_key_typo_names_the_closest_key(tmp_path):
  result = _cli("--config=configs/default.py:smoke", "--config.optim.lrr=0.1", f"--workdir={tmp_path}")
  assert result.returncode != 0
  assert "lrr" in result.stderr and 'Did you mean "lr"' in result.stderr
  assert "Traceback" not in result.stderr


def test_unknown_config_argument_is_rejected(tmp_path):
  result = _cli("--config=configs/default.py:smok", f"--workdir={tmp_path}")
  assert result.returncode != 0 and "'smok' is not one of" in result.stderr


def test_a_key_of_another_task_is_rejected(tmp_path):
  result = _cli("--config=configs/default.py:smoke", "--config.sla.mode=da", f"--workdir={tmp_path}")
  assert result.returncode != 0
  assert "no such key 'sla'" in result.stderr and "Traceback" not in result.stderr
