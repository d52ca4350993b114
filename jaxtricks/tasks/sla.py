"""Self-supervised label augmentation (Lee et al., ICML 2020): the network sees the M rotated (or
colour-permuted) copies of every image and learns joint labels ``y·M + t`` (SLA), plus a self-distilled
N-way head (SLA+SD), or the paper's baselines (DA, MT)."""

from __future__ import annotations

import dataclasses

import ml_collections

from jaxtricks.losses.label_augmentation import (NUM_TRANSFORMS, SLA_MODES, label_augment, sla_output_size,
                                                 sla_predictions, sla_task_loss)
from jaxtricks.tasks.base import (CLASSIFICATION_TARGETS, Batch, Data, Metrics, SingleNet, StepKeys,
                                  TrainState, build_net, reject_options, train_batches)
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
    copies, _ = label_augment(batch["image"], batch["label"], self.transform)
    predictions = sla_predictions(self.infer(state, copies), mode=self.mode,
                                  num_classes=self.num_classes,
                                  num_transforms=NUM_TRANSFORMS[self.transform])
    (_, main), *others = predictions.items()
    return EvalOut(classification_sums(main, batch["label"], batch["mask"], self.num_classes,
                                       **dict(others)), {})


def output_size(config: ml_collections.ConfigDict, num_classes: int) -> int:
  return sla_output_size(config.sla.mode, num_classes, NUM_TRANSFORMS[config.sla.transform])


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
