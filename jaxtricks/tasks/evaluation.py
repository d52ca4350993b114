"""The one evaluation loop: a per-device ``eval_step`` returns summed values and per-example rows.

``sums`` merge by addition (counts, loss sums, per-class hits: psum'd over devices inside the step,
added over batches); ``rows`` (embeddings, logits, scores: whatever a metric needs whole, e.g. AUROC or
Recall@K) are gathered over every device of every host inside the step, the padding of the last batch
dropped, and concatenated in data set order. ``finalize(sums, rows)`` turns both into the ``eval/``
metrics on the host. :func:`build_evaluators` makes a task's evaluators from its :class:`EvalSpec` s.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from jaxtricks.data import ArrayDataset, eval_batches
from jaxtricks.metrics import balanced_accuracy, per_class_recall
from jaxtricks.metrics.classification import per_class_counts
from jaxtricks.parallel import AXIS, DataParallel, gather_batch


class EvalOut(NamedTuple):
  sums: dict[str, jax.Array]  # Masked by batch["mask"] in the step; psum'd by the evaluator.
  rows: dict[str, jax.Array]  # [b, ...] per example of this device's shard.


class ConstantMetrics(NamedTuple):
  """An evaluator that reports fixed ``eval/`` values: properties of the run's data measured once
  (the teacher's pseudo-label accuracy, an attack's success rate)."""
  values: dict[str, float]

  def run(self, state) -> dict[str, float]:
    return dict(self.values)


class EvalSpec(NamedTuple):
  """One evaluation: a per-device ``step(state, batch) -> EvalOut`` and ``finalize(sums, rows)``
  over ``dataset`` (default: the test split)."""
  step: Callable[[Any, dict], EvalOut]
  finalize: Callable[[dict, dict], dict[str, Any]]
  dataset: ArrayDataset | None = None
  full_batches_only: bool = False


def build_evaluators(specs: Sequence[EvalSpec], test: ArrayDataset, *, batch_size: int,
                     parallel: DataParallel, constants: dict[str, float] | None = None) -> list:
  """A :class:`BatchEvaluator` per spec, then :class:`ConstantMetrics` of ``constants`` if any."""
  out = [BatchEvaluator(spec.step, test if spec.dataset is None else spec.dataset, spec.finalize,
                        batch_size=batch_size, parallel=parallel,
                        full_batches_only=spec.full_batches_only) for spec in specs]
  return out + ([ConstantMetrics(constants)] if constants else [])


class BatchEvaluator:
  """Runs ``eval_step(state, batch) -> EvalOut`` over every example of ``dataset`` once.

  ``full_batches_only`` leaves out the last, partial batch (a batch-level statistic such as Deep
  InfoMax's, where every example is a negative for the others, is not defined on padding).
  """

  def __init__(self, eval_step: Callable[[Any, dict], EvalOut], dataset: ArrayDataset,
               finalize: Callable[[dict, dict], dict[str, Any]], *, batch_size: int,
               parallel: DataParallel, full_batches_only: bool = False):
    def summed(state, batch):
      out = eval_step(state, batch)
      return EvalOut(lax.psum(out.sums, AXIS), jax.tree.map(gather_batch, out.rows))

    parallel.check_batch_size(batch_size, "eval_batch_size")
    self.step = parallel.step(summed)
    self.dataset, self.finalize, self.batch_size = dataset, finalize, batch_size
    self.num_batches = -(-len(dataset) // batch_size)
    if full_batches_only:
      self.num_batches = len(dataset) // batch_size
      if not self.num_batches:
        raise ValueError(f"eval_batch_size={batch_size} exceeds the {len(dataset)} test examples")

  def run(self, state) -> dict[str, Any]:
    sums, rows = None, []
    for batch in eval_batches(self.dataset, self.batch_size, process_index=jax.process_index(),
                              process_count=jax.process_count(), num_batches=self.num_batches):
      out = self.step(state, batch)
      sums = out.sums if sums is None else jax.tree.map(lambda a, b: a + b, sums, out.sums)
      rows.append(out.rows)
    return self.finalize(jax.device_get(sums), self._concatenate(jax.device_get(rows)))

  def _concatenate(self, rows: list[dict]) -> dict[str, np.ndarray]:
    """The global batches' rows in data set order, the padding of the last batch dropped."""
    if not rows or not rows[0]:
      return {}
    n = min(len(self.dataset), len(rows) * self.batch_size)
    return {k: np.concatenate([r[k] for r in rows])[:n] for k in rows[0]}


def classification_sums(logits: jax.Array, labels: jax.Array, mask: jax.Array, num_classes: int,
                        **extra_logits: jax.Array) -> dict[str, jax.Array]:
  """Masked loss sum, example count, per-class hit/total counts, and ``correct_<name>`` for every
  further prediction in ``extra_logits``."""
  loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
  correct, total = per_class_counts(logits, labels, num_classes, where=mask)
  extra = {f"correct_{name}": jnp.sum(mask & (jnp.argmax(p, -1) == labels))
           for name, p in extra_logits.items()}
  return {"loss_sum": jnp.sum(jnp.where(mask, loss, 0.0)), "count": jnp.sum(mask),
          "correct": correct, "total": total, **extra}


def classification_metrics(sums: dict, rows: dict | None = None) -> dict[str, Any]:
  """``eval/`` loss, accuracy (and ``accuracy_<name>``), balanced accuracy and per-class recall."""
  del rows
  correct, total = sums["correct"], sums["total"]
  extra = {f"eval/accuracy_{k.removeprefix('correct_')}": float(v / sums["count"])
           for k, v in sums.items() if k.startswith("correct_")}
  return {"eval/loss": float(sums["loss_sum"] / sums["count"]),
          "eval/accuracy": float(correct.sum() / total.sum()), **extra,
          "eval/balanced_accuracy": balanced_accuracy(correct, total),
          "eval/per_class_recall": [round(float(r), 6) for r in per_class_recall(correct, total)]}
