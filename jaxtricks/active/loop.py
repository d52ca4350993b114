"""The pool-based active-learning loop: train on the labelled set, evaluate, query, repeat.

For every strategy and seed: a random initial labelled set (the same for all strategies of a seed),
then ``rounds`` queries of ``budget`` points. Each round trains the model for ``steps_per_round``
steps from the seed's initial parameters (the official ALFA-Mix protocol) or from the previous
round's (``warm_start``), records the test accuracy against the labelled-set size in
``metrics.jsonl`` (with the labelled indices, so an interrupted run resumes after its last finished
round), and queries with the strategy. The training step is compiled once for all rounds,
strategies and seeds. At the end: ``learning_curves.png`` (mean ± std over seeds),
``penalty_matrix.png`` and ``results.md``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import tqdm
from matplotlib.figure import Figure

from jaxtricks.active import uncertainty
from jaxtricks.active.alfamix import alfamix_candidates, alfamix_select, class_anchors
from jaxtricks.active.badge import badge
from jaxtricks.active.coreset import kcenter_greedy
from jaxtricks.active.evaluation import penalty_matrix
from jaxtricks.data import TrainBatches, build_datasets
from jaxtricks.parallel import DataParallel
from jaxtricks.tasks import classification
from jaxtricks.tasks.base import Data
from jaxtricks.training.config import check_config
from jaxtricks.training.plots import read_metrics
from jaxtricks.training.runs import Runs
from jaxtricks.training.trainer import fit

STRATEGIES = ("random", "least_confidence", "margin", "entropy", "bald", "coreset", "badge",
              "alfamix")
SCORES = {"least_confidence": uncertainty.least_confidence, "margin": uncertainty.margin,
          "entropy": uncertainty.entropy}


@functools.partial(jax.jit, static_argnames=("model", "mc_passes"))
def _pool_outputs(variables, images, key, *, model, mc_passes):
  """Logits, penultimate embeddings and ``[T, n, C]`` MC-dropout logits of a chunk of the pool."""
  logits, state = model.apply(variables, images, train=False, mutable=["intermediates"])
  embedding = state["intermediates"]["embedding"][0]
  mc = None
  if mc_passes:
    apply = lambda k, x: model.apply(variables, x, train=False, dropout=True, rngs={"dropout": k})
    mc = uncertainty.mc_dropout_logits(apply, key, images, mc_passes)
  return logits, embedding, mc


def pool_outputs(model, variables, images: np.ndarray, key, *, mc_passes: int = 0,
                 chunk_size: int = 1024) -> dict[str, np.ndarray]:
  """The model's outputs over the whole pool, in fixed-size chunks (one compilation)."""
  out = {"logits": [], "embeddings": [], "mc_logits": []}
  for start in range(0, len(images), chunk_size):
    chunk = images[start:start + chunk_size]
    padded = np.concatenate([chunk, np.zeros((chunk_size - len(chunk),) + chunk.shape[1:],
                                             chunk.dtype)])
    logits, emb, mc = _pool_outputs(variables, padded, jax.random.fold_in(key, start), model=model,
                                    mc_passes=mc_passes)
    out["logits"].append(np.asarray(logits)[:len(chunk)])
    out["embeddings"].append(np.asarray(emb)[:len(chunk)])
    if mc is not None:
      out["mc_logits"].append(np.asarray(mc)[:, :len(chunk)])
  return {"logits": np.concatenate(out["logits"]), "embeddings": np.concatenate(out["embeddings"]),
          "mc_logits": np.concatenate(out["mc_logits"], axis=1) if mc_passes else None}


def query(strategy: str, key, outputs: dict[str, Any], labelled: np.ndarray, labels: np.ndarray,
          budget: int, head: dict[str, Any], config: ml_collections.ConfigDict) -> np.ndarray:
  """``budget`` new pool indices chosen by ``strategy`` (all distinct and unlabelled)."""
  unlabelled = ~labelled
  if strategy == "random":
    return np.asarray(uncertainty.random_selection(key, jnp.asarray(unlabelled), budget))
  if strategy in SCORES:
    scores = SCORES[strategy](jnp.asarray(outputs["logits"]))
    return np.asarray(uncertainty.select_top(scores, budget, jnp.asarray(unlabelled)))
  if strategy == "bald":
    scores = uncertainty.bald(jnp.asarray(outputs["mc_logits"]))
    return np.asarray(uncertainty.select_top(scores, budget, jnp.asarray(unlabelled)))
  if strategy == "coreset":
    return np.asarray(kcenter_greedy(outputs["embeddings"], labelled, budget))
  if strategy == "badge":
    return np.asarray(badge(key, jnp.asarray(outputs["logits"]),
                                  jnp.asarray(outputs["embeddings"]), jnp.asarray(unlabelled), budget))
  if strategy == "alfamix":
    emb = outputs["embeddings"]
    anchors = class_anchors(jnp.asarray(emb[labelled]), jnp.asarray(labels[labelled]),
                                    head["kernel"].shape[1])
    pool = np.flatnonzero(unlabelled)
    candidates, _ = alfamix_candidates(
        emb[pool], head["kernel"], head["bias"], anchors, budget, cap_step=config.alfamix_cap_step,
        mode=config.alfamix_mode, rng=key)
    seed = int(jax.random.randint(key, (), 0, 2 ** 31 - 1))
    return pool[alfamix_select(seed, emb[pool], candidates, budget)]
  raise ValueError(f"active.strategies: unknown {strategy!r}; allowed: {STRATEGIES}")


@dataclasses.dataclass(frozen=True)
class RoundBatches:
  """A round's training stream over the labelled examples; its ``steps_per_epoch`` (the round's
  steps) are the task's one epoch, for the LR schedule and mixup's off-step."""
  batches: TrainBatches
  steps_per_epoch: int

  @property
  def dataset(self):
    return self.batches.dataset

  def batch(self, step: int) -> dict[str, np.ndarray]:
    return self.batches.batch(step)


def run(config: ml_collections.ConfigDict, workdir: str | Path) -> list[dict]:
  """Runs every strategy × seed of ``config.active`` in ``workdir``; returns the round records.

  Seeds are ``config.seed + s`` for ``s < active.seeds``. The model is trained by the classification
  task of ``config`` (its dtype, loss, label smoothing, mixup and augmentation act as in ``fit``)."""
  active = config.active
  unknown = set(active.strategies) - set(STRATEGIES)
  if unknown:
    raise ValueError(f"active.strategies: unknown {sorted(unknown)}; allowed: {STRATEGIES}")
  check_config(config)
  classification.check(config)
  train, test = build_datasets(config.dataset)
  needed = active.initial + active.rounds * active.budget
  if needed > len(train):
    raise ValueError(f"active.initial + rounds·budget = {needed} exceeds the pool of {len(train)}")
  workdir = Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  (workdir / "config.json").write_text(config.to_json_best_effort(indent=2))

  parallel = DataParallel(config.parallel)
  batch_size = min(config.train.batch_size, active.initial)
  parallel.check_batch_size(batch_size, "min(train.batch_size, active.initial)")

  def labelled_batches(indices: np.ndarray, seed: int) -> TrainBatches:
    return TrainBatches(train.subset(indices), batch_size, seed=seed)

  task = classification.from_config(
      config, Data(train, test), Runs(workdir, fit, (train, test)),
      batches=RoundBatches(labelled_batches(np.arange(active.initial), 0), active.steps_per_round))
  model, tx = task.model, task.tx
  p_train = parallel.step(task.train_step)
  evaluator, *_ = task.evaluators(test, batch_size=config.eval_batch_size, parallel=parallel)
  mc_passes = active.mc_passes if "bald" in active.strategies else 0

  records_path = workdir / "metrics.jsonl"
  records = read_metrics(workdir) if records_path.exists() else []
  done = {(r["strategy"], r["seed"], r["round"]): r for r in records}
  jobs = [(s, config.seed + i) for i in range(active.seeds) for s in active.strategies]
  for strategy, seed in tqdm.tqdm(jobs, desc="active learning", unit="run",
                                  disable=not config.progress):
    rng = np.random.default_rng(seed)
    labelled = np.zeros(len(train), bool)
    labelled[rng.choice(len(train), active.initial, replace=False)] = True
    init = task.init(seed)
    state = init
    for round_ in range(active.rounds + 1):
      if (strategy, seed, round_) in done:  # Resume: replay the recorded labelled set.
        labelled = np.zeros(len(train), bool)
        labelled[done[(strategy, seed, round_)]["labelled_indices"]] = True
        labelled[done[(strategy, seed, round_)]["queried"]] = True
        continue
      start = state if active.warm_start and round_ else init
      state = parallel.replicate(
          start.replace(step=jnp.zeros((), jnp.int32), opt_state=tx.init(start.params)))
      indices = np.flatnonzero(labelled)
      batches = labelled_batches(indices, seed * 1000 + round_)
      for step in range(active.steps_per_round):
        state, _ = p_train(state, batches.batch(step))
      record = {"strategy": strategy, "seed": seed, "round": round_,
                "num_labelled": int(labelled.sum()),
                "test_accuracy": evaluator.run(state)["eval/accuracy"],
                "labelled_indices": indices.tolist(), "queried": []}
      if round_ < active.rounds:
        variables = jax.device_get(state.variables)
        key = jax.random.fold_in(jax.random.key(seed), round_)
        t0 = time.perf_counter()
        outputs = pool_outputs(model, variables, train.images, key,
                               mc_passes=mc_passes if strategy == "bald" else 0)
        picked = query(strategy, key, outputs, labelled, train.labels, active.budget,
                       variables["params"]["head"], active)
        record["query_seconds"] = time.perf_counter() - t0
        if len(set(picked.tolist())) != active.budget or labelled[picked].any():
          raise RuntimeError(f"{strategy} returned duplicates or labelled points: {picked.tolist()}")
        labelled[picked] = True
        record["queried"] = picked.tolist()
      with open(records_path, "a") as f:
        f.write(json.dumps(record) + "\n")
      records.append(record)
  report(records, workdir)
  return records


def curves(records: list[dict]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """``strategy -> (labelled sizes [R], accuracies [S, R])`` over the seeds that finished."""
  out = {}
  for strategy in dict.fromkeys(r["strategy"] for r in records):
    rows = [r for r in records if r["strategy"] == strategy]
    seeds = sorted({r["seed"] for r in rows})
    rounds = sorted({r["round"] for r in rows})
    table = {(r["seed"], r["round"]): r["test_accuracy"] for r in rows}
    complete = [s for s in seeds if all((s, k) in table for k in rounds)]
    sizes = np.array([next(r["num_labelled"] for r in rows if r["round"] == k) for k in rounds])
    out[strategy] = (sizes, np.array([[table[(s, k)] for k in rounds] for s in complete]))
  return out


def report(records: list[dict], workdir: Path) -> str:
  """Writes ``learning_curves.png``, ``penalty_matrix.png`` and ``results.md``; returns the table."""
  data = curves(records)
  names = list(data)
  fig = Figure(figsize=(7, 4.5))
  ax = fig.subplots()
  for i, name in enumerate(names):
    sizes, acc = data[name]
    mean, std = acc.mean(0), acc.std(0, ddof=1)
    ax.plot(sizes, mean, "o-", ms=3, label=name, color=f"C{i}")
    ax.fill_between(sizes, mean - std, mean + std, alpha=0.15, color=f"C{i}")
  ax.set_xlabel("labelled examples")
  ax.set_ylabel("test accuracy")
  ax.legend(fontsize=7)
  ax.set_title(f"active learning (mean ± std over {min(len(a) for _, a in data.values())} seeds)")
  fig.tight_layout()
  fig.savefig(workdir / "learning_curves.png", dpi=100)

  sizes = data[names[0]][0]
  lines = ["Test accuracy (%, mean ± std over seeds) against the labelled-set size:", "",
           "| strategy | " + " | ".join(str(n) for n in sizes) + " | mean |",
           "|---|" + "---|" * (len(sizes) + 1)]
  for name in names:
    acc = data[name][1]
    lines.append(f"| {name} | " + " | ".join(f"{100 * m:.1f} ± {100 * s:.1f}" for m, s in
                                              zip(acc.mean(0), acc.std(0, ddof=1)))
                 + f" | {100 * acc.mean():.1f} |")
  seeds = min(len(a) for _, a in data.values())
  if seeds >= 2 and len(sizes) > 1:
    acc = np.stack([data[n][1][:seeds, 1:] for n in names])  # Round 0 is shared: left out.
    matrix = penalty_matrix(acc)
    lines += ["", "Pairwise penalty matrix (row beats column in this fraction of rounds, paired t-test "
              f"over {seeds} seeds, 95 %); last row: column mean (lower is better):", "",
              "| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for name, row in zip(names, matrix):
      lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in row) + " |")
    lines.append("| mean | " + " | ".join(f"{v:.2f}" for v in matrix.sum(0) / (len(names) - 1)) + " |")
    fig = Figure(figsize=(1.0 + 0.7 * len(names), 0.8 + 0.6 * len(names)))
    ax = fig.subplots()
    ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(names)):
      for j in range(len(names)):
        ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize=7)
    ax.set_title("row beats column (fraction of rounds)", fontsize=8)
    fig.tight_layout()
    fig.savefig(workdir / "penalty_matrix.png", dpi=100)
  table = "\n".join(lines) + "\n"
  (workdir / "results.md").write_text(table)
  return table
