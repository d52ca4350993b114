"""Self-supervised label augmentation (Lee et al., ICML 2020): the network sees the M rotated (or
colour-permuted) copies of every image and learns joint labels ``y·M + t`` (SLA), plus a self-distilled
N-way head (SLA+SD), or the paper's baselines (DA, MT)."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import ml_collections

from jaxtricks.losses.label_augmentation import (NUM_TRANSFORMS, SLA_MODES, label_augment, sla_output_size,
                                                 sla_predictions, sla_task_loss)
from jaxtricks.tasks.base import (CLASSIFICATION_TARGETS, Batch, Data, Metrics, Prediction, SingleNet,
                                  StepKeys, TrainState, build_net, reject_options, train_batches)
from jaxtricks.tasks.evaluation import EvalOut, classification_sums

GENERATIONS = None
STREAMED_IMAGES = False


def config_blocks() -> dict[str, ml_collections.ConfigDict]:
  sla = ml_collections.ConfigDict()
  sla.transform = "rotation"  # rotation (M = 4) | color_perm (M = 6)
  sla.mode = "sla"  # sla (joint labels; eval SLA+AG) | sla_sd (+ self-distilled head) | da | mt
  sla.temperature = 1.0  # SLA+SD distillation temperature.
  return {"sla": sla}


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class SelfSupervisedLabelAugmentation(SingleNet):
  """The ``mode``'s loss on the transformed copies (sample-major) of the augmented batch; evaluated by
  the mode's main prediction (``eval/accuracy``) and its others (``eval/accuracy_<name>``)."""

  num_classes: int
  transform: str = "rotation"
  mode: str = "sla"
  temperature: float = 1.0

  def prepare(self, state: TrainState, batch: Batch, keys: StepKeys) -> tuple[Batch, Metrics]:
    batch, metrics = super().prepare(state, batch, keys)
    copies, joint_labels = label_augment(batch["image"], batch["label"], self.transform)
    return {**batch, "image": copies, "joint_label": joint_labels}, metrics

  def loss(self, params, state: TrainState, batch: Batch, keys: StepKeys):
    outputs, stats, _ = self.apply(params, state, batch["image"], keys)
    loss = sla_task_loss(outputs, batch["label"], batch["joint_label"], mode=self.mode,
                         num_classes=self.num_classes, num_transforms=NUM_TRANSFORMS[self.transform],
                         temperature=self.temperature)
    return loss, (stats, {"task_loss": loss})

  def eval_step(self, state: TrainState, batch: Batch) -> EvalOut:
    predictions = _predictions(lambda x: self.infer(state, x), batch["image"], mode=self.mode,
                               num_classes=self.num_classes, transform=self.transform)
    (_, main), *others = predictions.items()
    return EvalOut(classification_sums(main, batch["label"], batch["mask"], self.num_classes,
                                       **dict(others)), {})


def _predictions(network, images, *, mode: str, num_classes: int, transform: str) -> dict:
  """``sla_predictions`` of the network's outputs on the transformed copies of ``images``."""
  copies, _ = label_augment(images, jnp.zeros(images.shape[0], jnp.int32), transform)
  return sla_predictions(network(copies), mode=mode, num_classes=num_classes,
                         num_transforms=NUM_TRANSFORMS[transform])


def output_size(config: ml_collections.ConfigDict, num_classes: int) -> int:
  return sla_output_size(config.sla.mode, num_classes, NUM_TRANSFORMS[config.sla.transform])


def prediction(config: ml_collections.ConfigDict, num_classes: int) -> Prediction:
  """The mode's main prediction, as ``eval/accuracy`` scores it (SLA: aggregated over the M copies)."""
  s = config.sla

  def apply(model, variables, images):
    network = lambda x: model.apply(variables, x, train=False)[0]  # noqa: E731
    predictions = _predictions(network, images, mode=s.mode, num_classes=num_classes, transform=s.transform)
    return next(iter(predictions.values()))

  return Prediction(f"class logits [N, {num_classes}] of mode {s.mode!r}'s main prediction", apply)


def from_config(config: ml_collections.ConfigDict, data: Data, runs) -> SelfSupervisedLabelAugmentation:
  s = config.sla
  if s.transform not in NUM_TRANSFORMS:
    raise ValueError(f"sla.transform must be one of {sorted(NUM_TRANSFORMS)}, got {s.transform!r}")
  if s.mode not in SLA_MODES:
    raise ValueError(f"sla.mode must be one of {SLA_MODES}, got {s.mode!r}")
  reject_options(config, "sla", CLASSIFICATION_TARGETS)
  n = data.train.num_classes
  net = build_net(config, runs, train_batches(config, data.train), output_size=output_size(config, n))
  return SelfSupervisedLabelAugmentation(net=net, num_classes=n, transform=s.transform, mode=s.mode,
                                         temperature=s.temperature)
