"""Using a trained run: ``load_run`` / ``predict`` reproduce the run's own evaluation, on any device
count; ``--eval_only`` prints the same numbers and writes nothing else; an exported function runs in a
process without jaxtricks or flax; ``keep_best`` keeps the argmax of the validation metric (never the
test split's); the writers (JSON Lines, a user's, W&B offline) see every record."""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import struct
import subprocess
import sys
import textwrap

import numpy as np
import optax
import pytest

from jaxtricks.data import build_datasets
from jaxtricks.inference import evaluate, load_run
from jaxtricks.training import fit, load_config
from tests.conftest import REPO, crash_at


def _config(**overrides):
  config = load_config("digits_student", "smoke")
  config.progress = False
  config.update_from_flattened_dict(overrides)
  return config


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """A finished run of the smoke network (8 forced CPU devices; 12 epochs, well above chance) and its
  test split."""
  workdir = tmp_path_factory.mktemp("run")
  final, _ = fit(_config(**{"train.num_epochs": 12}), workdir)
  assert final["eval/accuracy"] > 0.5, final
  return workdir, final, build_datasets(load_config("digits_student", "smoke").dataset)[1]


def _run(args, **env):
  return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=REPO,
                        env={**os.environ, **env}, timeout=600)


def test_predict_reproduces_the_evaluation_and_eval_only_prints_it(trained):
  workdir, final, test = trained
  run = load_run(workdir)
  assert run.step == final["step"] and run.num_classes == 10
  logits = run.predict(test.images)
  assert logits.shape == (len(test), 10)
  assert float(np.mean(logits.argmax(1) == test.labels)) == final["eval/accuracy"]
  loss = optax.softmax_cross_entropy_with_integer_labels(logits, test.labels).mean()
  assert float(loss) == pytest.approx(final["eval/loss"], rel=1e-5)  # The same logits, not only argmax.
  before = {p.name: p.stat().st_mtime_ns for p in workdir.rglob("*")}
  done = _run(["-m", "jaxtricks.training", f"--workdir={workdir}", "--eval_only"])
  assert done.returncode == 0, done.stderr[-2000:]
  printed = dict(line.strip().split(": ", 1) for line in done.stdout.splitlines() if "eval/" in line)
  for key in ("eval/accuracy", "eval/loss", "eval/balanced_accuracy"):
    assert json.loads(printed[key]) == pytest.approx(final[key], rel=1e-6), key
  after = {p.name: p.stat().st_mtime_ns for p in workdir.rglob("*")}
  written = sorted(set(after) - set(before))
  assert len(written) == 1 and written[0].startswith("eval_"), written
  assert {k: v for k, v in after.items() if k in before} == before  # Nothing else touched.


def test_eval_only_takes_dataset_and_pgd_overrides_and_refuses_training_ones(trained):
  workdir, final, _ = trained
  robust = evaluate(workdir, overrides={"eval_pgd.epsilon": 0.5, "eval_pgd.step_size": 0.2,
                                        "eval_pgd.steps": 3})
  assert robust["eval/accuracy"] == final["eval/accuracy"]
  assert robust["eval/robust_accuracy"] < robust["eval/accuracy"]
  other = evaluate(workdir, overrides={"dataset.split_seed": 1})  # Another split: partly trained on.
  assert other["eval/loss"] < final["eval/loss"]
  with pytest.raises(ValueError, match="optim.lr"):
    evaluate(workdir, overrides={"optim.lr": 1.0})
  done = _run(["-m", "jaxtricks.training", f"--workdir={workdir}", "--eval_only",
               "--config=digits_student"])
  assert done.returncode == 2 and "its own config" in done.stderr


def test_an_exported_function_gives_the_logits_in_a_process_without_jaxtricks(trained, tmp_path):
  """Called with ``predict``'s per-call shape (64 rows a device); the variables are constants of the
  exported program, which XLA compiles in its own way, so the logits agree to float32 rounding of the
  last layers: 1e-6 of the largest logit (measured: 4.6e-7 of it)."""
  workdir, _, test = trained
  run = load_run(workdir)
  run.export(tmp_path)
  contract = json.loads((tmp_path / "predict.json").read_text())
  assert contract["inputs"] == [{"name": "image", "shape": ["batch", 8, 8, 1], "dtype": "float32"}]
  np.save(tmp_path / "images.npy", test.images)
  script = textwrap.dedent(f"""
      import sys
      import jax, numpy as np
      exported = jax.export.deserialize(open({str(tmp_path / 'predict.jax')!r}, "rb").read())
      images = np.load({str(tmp_path / 'images.npy')!r})
      chunks = [images[i:i + 64] for i in range(0, len(images), 64)]
      logits = np.concatenate([np.asarray(exported.call(chunk)) for chunk in chunks])
      np.save({str(tmp_path / 'logits.npy')!r}, logits)
      assert not any(m.split(".")[0] in ("jaxtricks", "flax") for m in sys.modules), "imported"
  """)
  done = _run(["-c", script])
  assert done.returncode == 0, done.stderr[-2000:]
  expected = run.predict(test.images)
  np.testing.assert_allclose(np.load(tmp_path / "logits.npy"), expected, rtol=0,
                             atol=1e-6 * np.abs(expected).max())


def test_a_run_trained_on_8_devices_predicts_identically_on_1(trained, tmp_path):
  workdir, _, test = trained
  np.save(tmp_path / "images.npy", test.images)
  script = textwrap.dedent(f"""
      import jax, numpy as np
      from jaxtricks.inference import load_run
      assert jax.device_count() == 1
      images = np.load({str(tmp_path / 'images.npy')!r})
      np.save({str(tmp_path / 'one.npy')!r}, load_run({str(workdir)!r}).predict(images))
  """)
  flags = " ".join(f for f in os.environ.get("XLA_FLAGS", "").split() if "device_count" not in f)
  done = _run(["-c", script], XLA_FLAGS=flags)
  assert done.returncode == 0, done.stderr[-2000:]
  np.testing.assert_array_equal(np.load(tmp_path / "one.npy"), load_run(workdir).predict(test.images))


def test_predict_names_a_wrong_input_shape(trained):
  with pytest.raises(ValueError, match=r"image must be \[N, 8, 8, 1\]"):
    load_run(trained[0]).predict(np.zeros((3, 8, 8, 3), np.float32))


def test_keep_best_refuses_the_test_split_and_keeps_the_validation_argmax(tmp_path):
  with pytest.raises(ValueError, match="test split must not pick"):
    fit(_config(keep_best="eval/accuracy"), tmp_path / "refused")
  assert not (tmp_path / "refused").exists()
  config = _config(**{"keep_best": "eval/accuracy", "dataset.val_fraction": 0.2,
                      "dataset.evaluate_on": "validation", "train.num_epochs": 6, "eval_every_epochs": 1})
  fit(config, tmp_path / "run")
  records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
  evaluated = [(r["eval/accuracy"], -r["step"]) for r in records if "eval/accuracy" in r]
  assert len(evaluated) == 6
  best_step = -max(evaluated)[1]  # The first step that reached the best accuracy.
  best = load_run(tmp_path / "run", which="best")
  assert best.step == best_step and load_run(tmp_path / "run").step == records[-1]["step"]
  assert evaluate(tmp_path / "run", which="best")["eval/accuracy"] == max(evaluated)[0]


class _Collect:
  def __init__(self):
    self.records, self.closed = [], False

  def write(self, step, metrics):
    self.records.append({"step": step, **metrics})

  def close(self):
    self.closed = True


def _wandb_history(workdir) -> tuple[set[str], dict[int, dict]]:
  """The run ids and the history rows (step → values) of every offline W&B run in ``workdir``, read
  from W&B's record log (LevelDB log blocks of ``Record`` protobufs)."""
  from wandb.proto import wandb_internal_pb2
  ids, history = set(), {}
  for path in glob.glob(str(workdir / "wandb" / "wandb" / "offline-run-*" / "run-*.wandb")):
    data, pos, pending = open(path, "rb").read(), 7, b""
    while pos + 7 <= len(data):
      left = 32768 - pos % 32768
      _, length, kind = struct.unpack("<IHB", data[pos:pos + 7]) if left >= 7 else (0, 0, 0)
      if left < 7 or (kind == 0 and length == 0):
        pos += left
        continue
      pending += data[pos + 7:pos + 7 + length]
      pos += 7 + length
      if kind in (1, 4):  # A full record, or the last piece of one.
        record = wandb_internal_pb2.Record.FromString(pending)
        pending = b""
        if record.WhichOneof("record_type") == "run":
          ids.add(record.run.run_id)
        elif record.WhichOneof("record_type") == "history":
          row = {item.key or "/".join(item.nested_key): json.loads(item.value_json)
                 for item in record.history.item}
          history.setdefault(record.history.step.num, {}).update(row)
  return ids, history


def test_writers_get_every_record_and_wandb_resumes_its_run(tmp_path, monkeypatch):
  pytest.importorskip("wandb")
  monkeypatch.setenv("WANDB_MODE", "offline")
  monkeypatch.setenv("WANDB_SILENT", "true")
  config = _config(**{"wandb.project": "jaxtricks-tests", "checkpoint_every_steps": 5,
                      "log_every_steps": 2})
  with crash_at(12), pytest.raises(RuntimeError, match="simulated crash"):
    fit(config, tmp_path)
  collected = _Collect()
  fit(config, tmp_path, writers=[collected])
  logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  assert collected.closed and collected.records == [r for r in logged if r["step"] > 10]
  ids, history = _wandb_history(tmp_path)
  assert ids == {(tmp_path / "wandb_id").read_text().strip()}  # Both starts log into one W&B run.
  for record in logged:
    for key, value in record.items():
      if key.startswith(("train/", "eval/")) and np.ndim(value) == 0:
        assert history.get(record["step"], {}).get(key) == pytest.approx(value), (record["step"], key,
                                                                                 sorted(history))


def test_wandb_without_its_package_is_refused_before_anything_is_written(tmp_path, monkeypatch):
  find_spec = importlib.util.find_spec
  monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else
                      find_spec(name, *a))
  with pytest.raises(ValueError, match=r"wandb.project='p' needs the wandb package: pip install"):
    fit(_config(**{"wandb.project": "p"}), tmp_path / "run")
  assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("metric, values, kept", [("eval/accuracy", [0.5, 0.8, 0.7, 0.8, 0.6], 2),
                                                  ("eval/loss", [0.9, 0.4, 0.6, 0.3, 0.5], 4)])
def test_the_best_checkpoint_is_the_first_best_value_so_far_and_survives_a_restart(tmp_path, metric,
                                                                                  values, kept):
  """Accuracy kept at its maximum, a loss at its minimum, a tie keeps the earlier step; a restarted run
  (a new BestCheckpoint on the same folder) compares with the kept value and re-offered steps save
  nothing."""
  import jax.numpy as jnp

  from jaxtricks.parallel import DataParallel
  from jaxtricks.training.checkpoints import BestCheckpoint
  parallel = DataParallel("mesh", 1)
  offer = lambda best, step, value: best.offer(step, {metric: value}, {"w": jnp.full(3, float(step))})  # noqa: E731
  best = BestCheckpoint(tmp_path, metric, parallel=parallel)
  for step, value in enumerate(values[:3], 1):
    offer(best, step, value)
  best.close()
  best = BestCheckpoint(tmp_path, metric, parallel=parallel)  # A resumed run: steps 2 and 3 again.
  for step, value in enumerate(values[1:], 2):
    offer(best, step, value)
  best.close()
  assert best.manager.all_steps() == [kept]
  with pytest.raises(ValueError, match=r"keep_best='eval/other' is not among this run's evaluation"):
    BestCheckpoint(tmp_path / "other", "eval/other", parallel=parallel).offer(6, {metric: 1.0}, {})
