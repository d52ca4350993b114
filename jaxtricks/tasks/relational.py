"""Visual question answering on Sort-of-CLEVR (Relation Networks, Santoro et al., NeurIPS 2017): each
example is a scene with all its questions (``extras`` ``questions [Q, q]``, ``answers [Q]``,
``kinds [Q]``); the loss is the mean cross-entropy over every question of the batch. Evaluated by
accuracy per question kind (``eval/accuracy_nonrelational``, ``eval/accuracy_relational``, and
``eval/accuracy_ternary`` for the head version's questions) from summed counts."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import ml_collections
import optax

from jaxtricks.tasks.base import (CLASSIFICATION_TARGETS, IMAGE_AUGMENTATION, Batch, Data, Metrics,
                                  Prediction, SingleNet, StepKeys, TrainState, build_net, reject_options,
                                  train_batches)
from jaxtricks.tasks.evaluation import EvalOut

QUESTION_KINDS = ("nonrelational", "relational", "ternary")
GENERATIONS = None
STREAMED_IMAGES = False


def config_blocks() -> dict[str, ml_collections.ConfigDict]:
  return {}


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class RelationalReasoning(SingleNet):

  def example_inputs(self) -> tuple:
    return self.batches.dataset.images[:1], self.batches.dataset.extras["questions"][:1]

  def prepare(self, state: TrainState, batch: Batch, keys: StepKeys) -> tuple[Batch, Metrics]:
    return batch, {}  # The reference does not augment.

  def loss(self, params, state: TrainState, batch: Batch, keys: StepKeys):
    logits, stats, _ = self.apply(params, state, (batch["image"], batch["questions"]), keys)
    loss = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, batch["answers"]))
    return loss, (stats, {})

  def eval_step(self, state: TrainState, batch: Batch) -> EvalOut:
    logits = self.infer(state, (batch["image"], batch["questions"]))  # [b, Q, answers]
    hit = jnp.argmax(logits, -1) == batch["answers"]
    kinds = batch["kinds"][..., None] == jnp.arange(len(QUESTION_KINDS))  # [b, Q, kinds]
    asked = batch["mask"][:, None, None] & kinds
    return EvalOut({"correct": jnp.sum(asked & hit[..., None], axis=(0, 1)),
                    "count": jnp.sum(asked, axis=(0, 1))}, {})

  def finalize(self, sums, rows) -> dict[str, float]:
    out = {"eval/accuracy": float(sums["correct"].sum() / sums["count"].sum())}
    for k, name in enumerate(QUESTION_KINDS):
      if sums["count"][k]:
        out[f"eval/accuracy_{name}"] = float(sums["correct"][k] / sums["count"][k])
    return out


def output_size(config: ml_collections.ConfigDict, num_classes: int) -> int:
  return num_classes


def prediction(config: ml_collections.ConfigDict, num_classes: int) -> Prediction:
  return Prediction(f"answer logits [N, questions, {num_classes}] of each scene's questions",
                    inputs=("image", "questions"))


def from_config(config: ml_collections.ConfigDict, data: Data, runs) -> RelationalReasoning:
  if not {"questions", "answers", "kinds"} <= set(data.train.extras):
    raise ValueError(f"task='relational' needs scenes with questions, answers and kinds "
                     f"(dataset.source='sort_of_clevr'), got dataset.source={config.dataset.source!r}")
  reject_options(config, "relational", CLASSIFICATION_TARGETS + IMAGE_AUGMENTATION)
  net = build_net(config, runs, train_batches(config, data.train), output_size=data.train.num_classes)
  return RelationalReasoning(net=net)
