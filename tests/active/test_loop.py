import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxtricks.active.loop import run
from jaxtricks.data import build_datasets
from jaxtricks.models import create_model
from jaxtricks.training.config import load_config
from jaxtricks.transfer import load_variables
from tests.conftest import REPO


def test_loop_records_growing_labelled_sets_and_resumes(tmp_path):
  config = load_config(REPO / "configs" / "active_digits.py", "smoke")
  config.progress = False
  config.active.strategies = ("entropy", "alfamix")
  records = run(config, tmp_path)
  assert len(records) == 2 * 2 * (config.active.rounds + 1)
  for r in records:
    assert len(set(r["labelled_indices"])) == r["num_labelled"]
    assert r["num_labelled"] == config.active.initial + r["round"] * config.active.budget
    assert not set(r["queried"]) & set(r["labelled_indices"])
  # Strategies of one seed start from the same labelled set.
  starts = {(r["strategy"], r["seed"]): r["labelled_indices"] for r in records if r["round"] == 0}
  assert starts[("entropy", 0)] == starts[("alfamix", 0)] != starts[("entropy", 1)]
  for name in ("results.md", "learning_curves.png", "penalty_matrix.png", "config.json"):
    assert (tmp_path / name).exists()
  # Each round trains through the trainer: its own logs and checkpoints.
  assert (tmp_path / "alfamix_seed1" / "round_1" / "checkpoints").is_dir()
  assert (tmp_path / "alfamix_seed1" / "round_1" / "metrics.jsonl").exists()
  # Interrupted after the first round of the last run: the rerun redoes only what is missing, and
  # the rounds it redoes resume from their checkpoints (the same accuracies and queries).
  lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
  (tmp_path / "metrics.jsonl").write_text("\n".join(lines[:-2]) + "\n")
  again = run(config, tmp_path)
  final = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  assert len(final) == len(again) == len(records)
  by_key = lambda rs: {(r["strategy"], r["seed"], r["round"]): (r["labelled_indices"], r["queried"],
                                                                 r["test_accuracy"]) for r in rs}
  assert by_key(final) == by_key(records)
  assert np.isfinite([r["test_accuracy"] for r in final]).all()
  # Per class, what each round trained on, resumed rounds included (before its own query).
  for r in again:
    assert sum(r["labelled_per_class"]) == r["num_labelled"] == len(r["labelled_indices"]), r
    assert r["fewest_labelled"] == min(r["labelled_per_class"])


def test_loop_takes_its_seeds_from_config_seed_and_rejects_bad_options(tmp_path):
  config = load_config(REPO / "configs" / "active_digits.py", "smoke")
  config.update(progress=False, seed=5)
  config.active.update(strategies=("random",), seeds=1, rounds=1)
  records = run(config, tmp_path / "run")
  assert {r["seed"] for r in records} == {5}
  config.loss.type = "hinge"
  with pytest.raises(ValueError, match="loss.type must be one of"):
    run(config, tmp_path / "bad")
  assert not (tmp_path / "bad").exists()


def test_margin_queries_the_points_its_model_is_least_sure_of(tmp_path):
  """One round from the same labelled set: margin picks points other than random's, and they are the
  pool's smallest top-2 margins under the model the round trained (a score sorted the wrong way, or a
  strategy that ignores the model, fails)."""
  config = load_config(REPO / "configs" / "active_digits.py", "smoke")
  config.progress = False
  config.active.update(strategies=("random", "margin"), seeds=1, rounds=1)
  records = run(config, tmp_path)
  first = {r["strategy"]: r for r in records if r["round"] == 0}
  assert first["margin"]["labelled_indices"] == first["random"]["labelled_indices"]
  picked = {s: np.array(r["queried"]) for s, r in first.items()}
  assert len(picked["margin"]) == config.active.budget and set(picked["margin"]) != set(picked["random"])
  for r in records:
    assert r["num_labelled"] == config.active.initial + r["round"] * config.active.budget

  pool = build_datasets(config.dataset)[0].images
  model = create_model(config.model, num_classes=10, dtype=jnp.float32)
  logits, _ = model.apply(load_variables(tmp_path / "margin_seed0" / "round_0"), pool, train=False)
  top2 = np.sort(np.asarray(jax.nn.softmax(logits)), axis=1)[:, -2:]
  margin = top2[:, 1] - top2[:, 0]
  unlabelled = np.setdiff1d(np.arange(len(pool)), first["margin"]["labelled_indices"])
  cut = np.sort(margin[unlabelled])[config.active.budget - 1]
  assert margin[picked["margin"]].max() <= cut + 1e-5
  assert margin[picked["margin"]].mean() < margin[picked["random"]].mean()
