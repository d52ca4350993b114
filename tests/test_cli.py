"""The command line as a user types it (README command (a), in a subprocess)."""

import json
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO


def _cli(*args, cwd=REPO):
  return subprocess.run([sys.executable, "-m", "jaxtricks.training", *args], cwd=cwd,
                        capture_output=True, text=True, timeout=600)


def test_cli_trains_a_recipe_by_name_from_any_directory_into_runs_recipe_timestamp(tmp_path):
  """Without --workdir a run is kept in ./runs/<recipe>/<timestamp>, printed at the start and end."""
  result = _cli("--config=default:smoke", "--config.train.num_epochs=1", "--config.progress=False",
                cwd=tmp_path)
  assert result.returncode == 0, result.stderr[-3000:]
  (run,) = (tmp_path / "runs" / "default").iterdir()
  assert re.fullmatch(r"\d{8}-\d{6}", run.name)
  lines = result.stdout.splitlines()
  assert lines[0] == f"workdir: runs/default/{run.name}" and f"workdir: runs/default/{run.name}" in lines[-2:]
  assert "final metrics:" in result.stdout
  final = json.loads((run / "final_metrics.json").read_text())
  assert final["step"] > 0 and 0.0 <= final["eval/balanced_accuracy"] <= 1.0
  saved = json.loads((run / "config.json").read_text())
  assert saved["train"]["num_epochs"] == 1 and saved["model"]["resnet"]["depth"] == 8


def test_a_diverging_run_ends_with_a_one_line_error_and_status_1(tmp_path):
  result = _cli("--config=digits_lt_erm:smoke", "--config.optim.lr=1e30", "--config.log_every_steps=1",
                "--config.progress=False", f"--workdir={tmp_path / 'run'}", cwd=tmp_path)
  assert result.returncode == 1
  assert "Traceback" not in result.stderr
  error = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
  assert len(error) == 1 and "training loss is nan at step" in error[0], result.stderr[-2000:]


def test_list_prints_every_recipe_with_its_summary(tmp_path):
  result = _cli("--list", cwd=tmp_path)
  assert result.returncode == 0, result.stderr[-3000:]
  lines = result.stdout.splitlines()
  assert len(lines) == len(list((REPO / "configs").glob("[!_]*.py")))
  assert any(line.startswith("digits_lt_cb_focal ") and "focal" in line for line in lines)
  assert max(len(line) for line in lines) <= 110, max(lines, key=len)


@pytest.mark.parametrize("flag", ["--help", "--helpfull"])
def test_help_is_no_error(tmp_path, flag):
  result = _cli(flag, cwd=tmp_path)
  assert result.returncode == 0, result.stderr[-2000:]
  assert "--workdir" in result.stdout + result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--config=default:smoke", "--config.optim.lrr=0.1"],
     'no such key in --config: \'lrr\' Did you mean "lr"'),
    (["--config=default:smoke", "--config.sla.mode=da"], "no such key in --config: 'sla'"),
    (["--config=nope"], "config 'nope' is neither a file nor the name of a recipe; recipes: active_digits,"),
    (["--config=default:smok"], "ValueError: config argument 'smok' is not one of ['seed', 'smoke']"),
    (["--config=default:smoke", "--workdr=x"], "Unknown command line flag 'workdr'. Did you mean: workdir ?"),
    (["--config.train.num_epochs=0", "--config=default:smoke"], "train.num_epochs must be >= 1, got 0"),
    (["--config=default:smoke", "--config.optim.lr=-1"], "optim.lr must be > 0, got -1.0"),
    (["--config=default:smoke", "--config.train.batch_size=abc"], "invalid literal for int()"),
    (["--config=default:smoke", "--config.model.name=vit"], "model.name must be one of"),
    (["--config", "nope"], "config 'nope' is neither a file nor the name of a recipe"),  # The space form.
    (["--config", "default:smoke", "--config.optim.lrr=0.1"],
     'no such key in --config: \'lrr\' Did you mean "lr"'),
    (["--config=active_digits:smoke"], "an active-learning recipe runs with python -m jaxtricks.active"),
])
def test_bad_input_is_a_one_line_error_with_exit_status_2(tmp_path, args, message):
  result = _cli(*args, f"--workdir={tmp_path / 'run'}", cwd=tmp_path)
  assert result.returncode == 2, result.stderr[-3000:]
  errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
  assert len(errors) == 1 and message in errors[0], result.stderr[-3000:]
  assert "Traceback" not in result.stderr


def test_active_learning_cli_keeps_its_run_in_runs_recipe_timestamp(tmp_path):
  """Two strategies (every one runs in tests/test_configs.py and tests/active/test_loop.py)."""
  result = subprocess.run([sys.executable, "-m", "jaxtricks.active", "--config=active_digits:smoke",
                           "--config.active.strategies=('random','margin')", "--config.progress=False",
                           "--record=data/active.jsonl"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  (run,) = (tmp_path / "runs" / "active_digits").iterdir()
  assert result.stdout.splitlines()[0] == f"workdir: runs/active_digits/{run.name}"
  assert {"metrics.jsonl", "results.md", "learning_curves.png"} <= {p.name for p in run.iterdir()}
  # --record: one line per strategy, seed and round, the accuracy and the labelled set's size per class
  # without the labelled indices.
  records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
  recorded = [json.loads(line) for line in (tmp_path / "data" / "active.jsonl").read_text().splitlines()]
  counts = ("labelled_per_class", "fewest_labelled")
  assert [{k: v for k, v in r.items() if k not in counts} for r in recorded] == [
      {k: r[k] for k in ("num_labelled", "round", "seed", "strategy", "test_accuracy")} for r in records]
  assert all(sum(r["labelled_per_class"]) == r["num_labelled"] for r in recorded)
  assert {r["strategy"] for r in recorded} == {"random", "margin"}
