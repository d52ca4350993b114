"""Open-set recognition: the max-softmax baseline, Reciprocal Point Learning (Chen et al., ECCV 2020)
and Adversarial Reciprocal Points (Chen et al., TPAMI 2021, without the generator). Trained on the
known classes; evaluated by closed-set accuracy and AUROC / AUPR / OSCR of known vs unknown."""

from __future__ import annotations

import dataclasses
import functools

import jax
import ml_collections
import numpy as np
import optax

from jaxtricks.losses.open_set import OPEN_SET_LOSSES, arpl_loss, open_set_logits, open_set_scores, rpl_loss
from jaxtricks.metrics.open_set import open_set_aupr, open_set_auroc, oscr
from jaxtricks.models.open_set import ReciprocalPoints
from jaxtricks.tasks.base import (CLASSIFICATION_TARGETS, Batch, Data, Prediction, SingleNet, StepKeys,
                                  TrainState, build_net, reject_options, train_batches)
from jaxtricks.tasks.evaluation import EvalOut

GENERATIONS = None
STREAMED_IMAGES = False


def config_blocks() -> dict[str, ml_collections.ConfigDict]:
  o = ml_collections.ConfigDict()
  o.loss = "softmax"  # softmax | rpl | arpl (reciprocal points; features = model.embedding_dim)
  o.num_centers = 1  # Reciprocal points per class (RPL).
  o.temperature = 1.0
  o.weight = 0.1  # Weight of the open-space term (official default 0.1).
  o.official_indexing = False  # RPL, K > 1: reproduce the official code's point indexing.
  return {"open_set": o}


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class OpenSet(SingleNet):
  """Cross-entropy on the class logits (``softmax``), or the RPL / ARPL loss on the features and the
  reciprocal points ``params["points"]`` and radius ``params["radius"]``. Labels ``< num_known`` of
  the test split are known classes, the others unknown."""

  num_known: int
  method: str = "softmax"
  num_centers: int = 1
  temperature: float = 1.0
  weight: float = 0.1
  official_indexing: bool = False

  def loss(self, params, state: TrainState, batch: Batch, keys: StepKeys):
    outputs, stats, _ = self.apply(params, state, batch["image"], keys)
    labels = batch["label"]
    kwargs = dict(temperature=self.temperature, weight=self.weight)
    if self.method == "softmax":
      per_example = optax.softmax_cross_entropy_with_integer_labels(outputs, labels)
    elif self.method == "rpl":
      per_example = rpl_loss(outputs, labels, params["points"], params["radius"],
                             num_centers=self.num_centers, official_indexing=self.official_indexing,
                             **kwargs)
    else:
      per_example = arpl_loss(outputs, labels, params["points"], params["radius"], **kwargs)
    loss = per_example.mean()
    return loss, (stats, {"task_loss": loss})

  def eval_step(self, state: TrainState, batch: Batch) -> EvalOut:
    logits = open_set_logits(self.infer(state, batch["image"]), state.params, loss=self.method,
                             num_centers=self.num_centers)  # As prediction() below.
    return EvalOut({}, {"logits": logits, "label": batch["label"]})

  def finalize(self, sums, rows) -> dict[str, float]:
    logits, labels = rows["logits"], rows["label"]
    scores = np.asarray(open_set_scores(logits, loss=self.method))
    known = labels < self.num_known
    if not known.any():
      raise ValueError("the open-set evaluation split needs examples of the known classes")
    if known.all():  # A validation split carved from the training classes: closed-set accuracy only.
      return {"eval/accuracy": float(np.mean(logits.argmax(1) == labels))}
    probs = np.asarray(logits if self.method == "arpl" else jax.nn.softmax(logits))
    return {"eval/accuracy": float(np.mean(logits[known].argmax(1) == labels[known])),
            "eval/auroc": open_set_auroc(scores[known], scores[~known]),
            **{f"eval/{k}": v for k, v in open_set_aupr(scores[known], scores[~known]).items()},
            "eval/oscr": oscr(probs[known], probs[~known], labels[known])}


def output_size(config: ml_collections.ConfigDict, num_classes: int) -> int:
  """Class logits (``softmax``), or the features compared with the reciprocal points."""
  return num_classes if config.open_set.loss == "softmax" else config.model.embedding_dim


def prediction(config: ml_collections.ConfigDict, num_classes: int) -> Prediction:
  """The closed-set logits over the known classes, as the evaluation computes them (``open_set_scores``
  of them is the open-set score: high = known)."""
  o = config.open_set

  def apply(model, variables, images):
    features = model.apply(variables, images, train=False)[0]
    return open_set_logits(features, variables["params"], loss=o.loss, num_centers=o.num_centers)

  wrap = None
  if o.loss != "softmax":
    wrap = functools.partial(ReciprocalPoints, num_classes=num_classes, num_centers=o.num_centers)
  return Prediction(f"closed-set logits [N, {num_classes}] of the known classes; "
                    f"open_set_scores(logits, loss={o.loss!r}) is the open-set score", apply, wrap=wrap)


def from_config(config: ml_collections.ConfigDict, data: Data, runs) -> OpenSet:
  o = config.open_set
  if o.loss not in OPEN_SET_LOSSES:
    raise ValueError(f"open_set.loss must be one of {OPEN_SET_LOSSES}, got {o.loss!r}")
  reject_options(config, "open_set", CLASSIFICATION_TARGETS)
  n = data.train.num_classes
  net = build_net(config, runs, train_batches(config, data.train), wrap=prediction(config, n).wrap,
                  output_size=output_size(config, n))
  return OpenSet(net=net, num_known=n, method=o.loss, num_centers=o.num_centers,
                 temperature=o.temperature, weight=o.weight, official_indexing=o.official_indexing)
