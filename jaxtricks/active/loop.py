"""The pool-based active-learning loop: train on the labelled set, evaluate, query, repeat.

For every strategy and seed: a random initial labelled set (the same for all strategies of a seed),
then ``rounds`` queries of ``budget`` points. Each round trains the model for ``steps_per_round`` steps
from the seed's initial parameters (the official ALFA-Mix protocol) or from the previous round's
(``warm_start``), records the test accuracy against the labelled-set size in ``metrics.jsonl`` (with
the labelled indices, so an interrupted run resumes after its last finished round), and queries with
the strategy. The returned records also count each round's labelled set per class
(``labelled_per_class``, ``fewest_labelled``: how many labels its rarest class has). A round trains
through :func:`jaxtricks.training.trainer.train` in ``<strategy>_seed<s>/round_<r>`` (its logs and
checkpoints: a round cut short resumes from its last checkpoint); the training step is compiled once
for all rounds, strategies and seeds. At the end: ``learning_curves.png`` (mean ± std over seeds),
``penalty_matrix.png`` and ``results.md``.
"""

from __future__ import annotations

import dataclasses
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
from jaxtricks.data import TrainBatches, build_datasets, map_in_chunks
from jaxtricks.inference import DATA_FILE, data_record
from jaxtricks.models.layers import aux_output
from jaxtricks.parallel import DataParallel
from jaxtricks.paths import local_path
from jaxtricks.tasks import classification
from jaxtricks.tasks.base import Data
from jaxtricks.training import trainer
from jaxtricks.training.checkpoints import Checkpoints
from jaxtricks.training.config import check_config
from jaxtricks.training.plots import read_metrics
from jaxtricks.training.runs import Runs
from jaxtricks.training.workdir import check_workdir, hold

STRATEGIES = ("random", "least_confidence", "margin", "entropy", "bald", "coreset", "badge",
              "alfamix")
SCORES = {"least_confidence": uncertainty.least_confidence, "margin": uncertainty.margin,
          "entropy": uncertainty.entropy}


def pool_outputs(model, variables, images: np.ndarray, key, *, mc_passes: int = 0,
                 chunk_size: int = 1024) -> dict[str, np.ndarray]:
  """The model's ``logits``, penultimate ``embeddings`` and ``[T, n, C]`` MC-dropout ``mc_logits``
  (None without ``mc_passes``) over the whole pool; example ``i``'s dropout masks are keyed by
  ``fold_in(key, i)``, whatever the chunk size."""

  def outputs(chunk):
    logits, aux = model.apply(variables, chunk["image"], train=False)
    out = {"logits": logits, "embeddings": aux_output(aux, "embedding", needed_by="active learning")}
    if mc_passes:
      def passes(i, x):  # [T, C]: one example's stochastic passes.
        apply = lambda k, x: model.apply(variables, x, train=False, dropout=True,  # noqa: E731
                                         rngs={"dropout": k})[0]
        logits = uncertainty.mc_dropout_logits(apply, jax.random.fold_in(key, i), x[None], mc_passes)
        return logits[:, 0]
      out["mc_logits"] = jax.vmap(passes)(chunk["index"], chunk["image"])
    return out

  out = map_in_chunks(outputs, {"image": images, "index": np.arange(len(images))}, chunk_size=chunk_size)
  out["mc_logits"] = np.swapaxes(out["mc_logits"], 0, 1) if mc_passes else None
  return out


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

  def iterate(self, start_step: int, stop_step: int):
    return self.batches.iterate(start_step, stop_step)


def active_block() -> ml_collections.ConfigDict:
  """The ``active`` config block of an active-learning run (``python -m jaxtricks.active``), with its
  defaults: the simulated loop's strategies, seeds, labelled start, budget per round and rounds."""
  a = ml_collections.ConfigDict()
  a.strategies = STRATEGIES
  a.seeds = 3
  a.initial = 20  # Random labelled examples before the first query.
  a.budget = 20  # Queries per round.
  a.rounds = 8
  a.steps_per_round = 200
  a.warm_start = False  # Continue from the previous round's parameters.
  a.mc_passes = 5  # BALD: MC-dropout forward passes (the ALFA-Mix default).
  a.alfamix_cap_step = 0.2
  a.alfamix_mode = "closed_form"  # closed_form | learned | random
  return a


def run(config: ml_collections.ConfigDict, workdir: str | Path) -> list[dict]:
  """Runs every strategy × seed of ``config.active`` in ``workdir``; returns the round records.

  Seeds are ``config.seed + s`` for ``s < active.seeds``. The model is trained by the classification
  task of ``config`` (its dtype, loss, label smoothing, mixup and augmentation act as in ``fit``)."""
  if "active" not in config:
    raise ValueError("the config has no active block: start from an active-learning recipe "
                     "(active_digits) or add jaxtricks.active.loop.active_block()")
  active = config.active
  unknown = set(active.strategies) - set(STRATEGIES)
  if unknown:
    raise ValueError(f"active.strategies: unknown {sorted(unknown)}; allowed: {STRATEGIES}")
  check_config(config, extra_blocks={"active": active_block()})
  classification.check(config)
  train, test = build_datasets(config.dataset)
  needed = active.initial + active.rounds * active.budget
  if needed > len(train):
    raise ValueError(f"active.initial + rounds·budget = {needed} exceeds the pool of {len(train)}")
  workdir = local_path(workdir, "workdir")  # The active loop's records (fit's workdirs may be URLs).
  check_workdir(config, workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  with hold(workdir, enabled=jax.process_index() == 0):
    (workdir / "config.json").write_text(config.to_json_best_effort(indent=2))

    parallel = DataParallel(config.parallel)
    batch_size = min(config.train.batch_size, active.initial)
    parallel.check_batch_size(batch_size, "min(train.batch_size, active.initial)")

    def labelled_batches(indices: np.ndarray, seed: int) -> TrainBatches:
      return TrainBatches(train.subset(indices), batch_size, seed=seed)

    task = classification.from_config(
        config, Data(train, test), Runs(workdir, trainer.fit, (train, test)),
        batches=RoundBatches(labelled_batches(np.arange(active.initial), 0), active.steps_per_round))
    model, tx = task.model, task.net.tx
    p_train = parallel.step(task.train_step)  # Compiled once for every round, strategy and seed.
    evaluator, *_ = task.evaluators(test, batch_size=config.eval_batch_size, parallel=parallel)
    mc_passes = active.mc_passes if "bald" in active.strategies else 0
    round_config = config.copy_and_resolve_references()  # A round: one epoch of steps_per_round steps.
    round_config.train.num_epochs = 1
    round_config.update(eval_every_epochs=1, progress=False,
                        log_every_steps=min(config.log_every_steps, active.steps_per_round),
                        checkpoint_every_steps=min(config.checkpoint_every_steps, active.steps_per_round))

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
        round_dir = workdir / f"{strategy}_seed{seed}" / f"round_{round_}"
        if (strategy, seed, round_) in done:  # Resume: replay the recorded labelled set.
          labelled = np.zeros(len(train), bool)
          labelled[done[(strategy, seed, round_)]["labelled_indices"]] = True
          labelled[done[(strategy, seed, round_)]["queried"]] = True
          state = None  # Its trained state is in its checkpoint (read if the next round starts from it).
          continue
        if not (active.warm_start and round_):
          start = init
        else:
          start = state if state is not None else _finished_round(round_dir.parent / f"round_{round_ - 1}",
                                                                   init, parallel)
        indices = np.flatnonzero(labelled)
        batches = RoundBatches(labelled_batches(indices, seed * 1000 + round_), active.steps_per_round)
        fresh = start.replace(step=jnp.zeros((), jnp.int32), opt_state=jax.jit(tx.init)(start.params))
        state, summary = trainer.train(round_config, round_dir, batches, fresh, p_train, evaluator.run,
                                       parallel)
        state = parallel.to_host(state)
        (round_dir / DATA_FILE).write_text(json.dumps(data_record(train, test)))  # For load_run.
        record = {"strategy": strategy, "seed": seed, "round": round_,
                  "num_labelled": int(labelled.sum()), "test_accuracy": summary["eval/accuracy"],
                  "labelled_indices": indices.tolist(), "queried": []}
        if round_ < active.rounds:
          variables = state.variables
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
    for record in records:  # What each round trained on, per class (resumed rounds included).
      counts = np.bincount(train.labels[record["labelled_indices"]], minlength=train.num_classes)
      record.update(labelled_per_class=counts.tolist(), fewest_labelled=int(counts.min()))
    report(records, workdir)
    return records


def _finished_round(directory: Path, like, parallel: DataParallel):
  """The trained state of a round finished before the run was interrupted (its last checkpoint)."""
  checkpoints = Checkpoints(directory / "checkpoints", max_to_keep=1, parallel=parallel)
  state = checkpoints.restore(parallel.replicate(like))
  checkpoints.close()
  return parallel.to_host(state)


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
    mean = acc.mean(0)
    ax.plot(sizes, mean, "o-", ms=3, label=name, color=f"C{i}")
    if len(acc) > 1:  # ± the sample std over seeds.
      std = acc.std(0, ddof=1)
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
    cells = ([f"{100 * m:.1f} ± {100 * s:.1f}" for m, s in zip(acc.mean(0), acc.std(0, ddof=1))]
             if len(acc) > 1 else [f"{100 * m:.1f}" for m in acc[0]])  # One seed: no spread.
    lines.append(f"| {name} | " + " | ".join(cells) + f" | {100 * acc.mean():.1f} |")
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
