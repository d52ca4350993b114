"""Metric learning: an l2-normalised embedding trained with the batch-hard triplet loss (Hermans et
al., 2017), optionally distilled from a teacher with RKD (Park et al., CVPR 2019); Recall@K on the
test classes."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import ml_collections

from jaxtricks.losses.metric_learning import batch_hard_triplet_loss, valid_triplet_anchors
from jaxtricks.metrics import recall_at_k
from jaxtricks.parallel import AXIS, gather_batch
from jaxtricks.tasks import distillation
from jaxtricks.tasks.base import (CLASSIFICATION_TARGETS, Batch, Data, Prediction, SingleNet, StepKeys,
                                  TrainState, build_net, reject_options, train_batches)
from jaxtricks.tasks.distillation import Distillation
from jaxtricks.tasks.evaluation import EvalOut

RECALL_KS = (1, 2, 4, 8)
GENERATIONS = "distill"  # Self-distillation: distill.generations.
STREAMED_IMAGES = False


def config_blocks() -> dict[str, ml_collections.ConfigDict]:
  loss = ml_collections.ConfigDict()
  loss.margin = 0.2  # Triplet margin.
  loss.weight = 1.0  # Weight of the triplet loss; 0 trains on distillation losses alone.
  return {"loss": loss, "distill": distillation.config_block()}


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class MetricLearning(SingleNet):
  """``task_weight ·`` batch-hard triplet loss over the global batch (gathered over devices: every
  example mines its hardest positive and negative among all of them) plus the ``distill`` losses."""

  margin: float = 0.2
  task_weight: float = 1.0
  distill: Distillation | None = None

  def loss(self, params, state: TrainState, batch: Batch, keys: StepKeys):
    embeddings, stats, aux = self.apply(params, state, batch["image"], keys)
    labels = gather_batch(batch["label"], AXIS)
    per_example = batch_hard_triplet_loss(gather_batch(embeddings, AXIS), labels, margin=self.margin)
    task_loss = jnp.sum(per_example) / jnp.maximum(jnp.sum(valid_triplet_anchors(labels)), 1)
    terms = {}
    if self.distill is not None:
      terms = self.distill.losses(state.frozen["teacher"], batch["image"], embeddings, aux)
    return self.task_weight * task_loss + sum(terms.values()), (stats, {"task_loss": task_loss, **terms})

  def eval_step(self, state: TrainState, batch: Batch) -> EvalOut:
    return EvalOut({}, {"embedding": self.infer(state, batch["image"]), "label": batch["label"]})

  def finalize(self, sums, rows) -> dict[str, float]:
    recalls = recall_at_k(rows["embedding"], rows["label"], RECALL_KS)
    return {f"eval/recall@{k}": r for k, r in recalls.items()}


def output_size(config: ml_collections.ConfigDict, num_classes: int) -> int:
  return config.model.embedding_dim


def prediction(config: ml_collections.ConfigDict, num_classes: int) -> Prediction:
  return Prediction(f"embeddings [N, {config.model.embedding_dim}] (compared by Euclidean distance)")


def from_config(config: ml_collections.ConfigDict, data: Data, runs) -> MetricLearning:
  reject_options(config, "metric_learning", CLASSIFICATION_TARGETS)
  distillation.check(config)
  net = build_net(config, runs, train_batches(config, data.train),
                  output_size=output_size(config, data.train.num_classes))
  distill, frozen = distillation.from_config(config, runs, data.train.num_classes, net.model.dtype)
  return MetricLearning(net=net, frozen=frozen, margin=config.loss.margin,
                        task_weight=config.loss.weight, distill=distill)
