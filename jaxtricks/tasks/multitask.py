"""Multi-task learning (MMoE, Ma et al., KDD 2018): one network, one output per task, several targets
per example (``extras["targets"] [N, T]``). Each head has its loss, ``regression`` (mean squared
error) or ``binary`` (sigmoid cross-entropy on a logit); the training loss is ``Σ_k weight_k·loss_k``
(keras-mmoe: every weight 1). Evaluated per head: ``eval/mse_<k>`` or ``eval/bce_<k>`` and
``eval/auc_<k>`` (scikit-learn's ``roc_auc_score`` semantics, on the gathered test rows)."""

from __future__ import annotations

import dataclasses
from typing import Sequence

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxtricks.metrics.open_set import open_set_auroc
from jaxtricks.tasks.base import (CLASSIFICATION_TARGETS, IMAGE_AUGMENTATION, Batch, Data, Metrics,
                                  Prediction, SingleNet, StepKeys, TrainState, build_net, reject_options,
                                  train_batches)
from jaxtricks.tasks.evaluation import EvalOut

HEADS = ("regression", "binary")
GENERATIONS = None
STREAMED_IMAGES = False


def config_blocks() -> dict[str, ml_collections.ConfigDict]:
  c = ml_collections.ConfigDict()
  c.heads = ("regression", "regression")  # One per target column: regression | binary.
  c.weights = ()  # Loss weight per head; empty: 1 each.
  return {"multitask": c}


def head_losses(outputs: jax.Array, targets: jax.Array, heads: Sequence[str]) -> jax.Array:
  """``[B, T]`` per-example losses: ``(output − target)²`` for a regression head, sigmoid
  cross-entropy of the logit for a binary one."""
  chex.assert_shape(outputs, (None, len(heads)),
                    custom_message=f"outputs must be [B, heads={len(heads)}]")
  chex.assert_equal_shape([outputs, targets], custom_message="targets must have the outputs' shape")
  binary = np.array([h == "binary" for h in heads])
  squared = jnp.square(outputs - targets)
  return jnp.where(binary, optax.sigmoid_binary_cross_entropy(outputs, targets), squared)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class MultiTask(SingleNet):
  heads: tuple[str, ...]
  weights: tuple[float, ...]

  def prepare(self, state: TrainState, batch: Batch, keys: StepKeys) -> tuple[Batch, Metrics]:
    return batch, {}  # Feature vectors: no image augmentation.

  def loss(self, params, state: TrainState, batch: Batch, keys: StepKeys):
    outputs, stats, _ = self.apply(params, state, batch["image"], keys)
    per_head = jnp.mean(head_losses(outputs, batch["targets"], self.heads), axis=0)
    metrics = {f"{kind}_{k}_loss": per_head[k] for k, kind in enumerate(self.heads)}
    return jnp.dot(jnp.asarray(self.weights), per_head), (stats, metrics)

  def eval_step(self, state: TrainState, batch: Batch) -> EvalOut:
    outputs = self.infer(state, batch["image"])
    mask = batch["mask"][:, None]
    losses = jnp.where(mask, head_losses(outputs, batch["targets"], self.heads), 0.0)
    sums = {"loss_sum": jnp.sum(losses, axis=0), "count": jnp.sum(batch["mask"])}
    return EvalOut(sums, {"output": outputs, "target": batch["targets"]})

  def finalize(self, sums, rows) -> dict[str, float]:
    per_head = sums["loss_sum"] / sums["count"]
    out = {"eval/loss": float(np.dot(self.weights, per_head))}
    for k, kind in enumerate(self.heads):
      if kind == "regression":
        out[f"eval/mse_{k}"] = float(per_head[k])
      else:
        positive = rows["target"][:, k] > 0.5
        out[f"eval/bce_{k}"] = float(per_head[k])
        out[f"eval/auc_{k}"] = open_set_auroc(rows["output"][positive, k], rows["output"][~positive, k])
    return out


def output_size(config: ml_collections.ConfigDict, num_classes: int) -> int:
  return len(config.multitask.heads)


def prediction(config: ml_collections.ConfigDict, num_classes: int) -> Prediction:
  heads = ", ".join(config.multitask.heads)
  return Prediction(f"one output per head [N, {len(config.multitask.heads)}] ({heads}: a binary head's "
                    "logit, a regression head's value)")


def from_config(config: ml_collections.ConfigDict, data: Data, runs) -> MultiTask:
  c = config.multitask
  heads = tuple(c.heads)
  for head in heads:
    if head not in HEADS:
      raise ValueError(f"multitask.heads must hold values of {HEADS}, got {head!r}")
  weights = tuple(float(w) for w in c.weights) or (1.0,) * len(heads)
  if len(weights) != len(heads):
    raise ValueError(f"multitask.weights must have one value per head ({len(heads)}), got {weights}")
  targets = data.train.extras.get("targets")
  if targets is None or targets.shape[1:] != (len(heads),):
    shape = None if targets is None else targets.shape
    raise ValueError(f"multitask.heads={heads} needs data with targets [N, {len(heads)}]; got "
                     f"{shape} (dataset.source={config.dataset.source!r})")
  for k, head in enumerate(heads):
    if head == "binary" and not np.isin(targets[:, k], (0.0, 1.0)).all():
      raise ValueError(f"multitask.heads[{k}]='binary' needs 0/1 targets (dataset.binarize=True)")
  reject_options(config, "multitask", CLASSIFICATION_TARGETS + IMAGE_AUGMENTATION)
  net = build_net(config, runs, train_batches(config, data.train), output_size=len(heads))
  return MultiTask(net=net, heads=heads, weights=weights)
