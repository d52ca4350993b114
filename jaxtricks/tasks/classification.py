"""Classification with the Bag-of-Tricks targets (label smoothing, mixup; He et al., CVPR 2019), the
class-balanced / focal losses with deferred re-weighting (Cui et al., CVPR 2019), M2m (Kim et al.,
CVPR 2020), distillation, transfer learning, adversarial training and robust accuracy under PGD (Madry
et al., ICLR 2018), and training on constructed data sets (Ilyas et al., NeurIPS 2019)."""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import ml_collections
import optax
from jax import lax

from jaxtricks.adversarial import NORMS, pgd
from jaxtricks.data import ArrayDataset, ImageDataset, mixup
from jaxtricks.data.constructed import KINDS as CONSTRUCTED_KINDS
from jaxtricks.data.constructed import inverted_dataset, nonrobust_dataset
from jaxtricks.imbalance import M2mTranslation
from jaxtricks.imbalance.m2m import NOISE_MODES
from jaxtricks.losses import effective_number_weights, logit_adjusted_logits
from jaxtricks.losses.classification import SOFT_TARGET_LOSSES, soft_target_loss
from jaxtricks.models.layers import aux_output
from jaxtricks.parallel import AXIS
from jaxtricks.tasks import distillation
from jaxtricks.tasks.base import (Batch, Data, Metrics, Prediction, SingleNet, StepKeys, TrainState,
                                  build_net, train_batches)
from jaxtricks.tasks.distillation import Distillation
from jaxtricks.tasks.evaluation import EvalOut, EvalSpec

GENERATIONS = "distill"  # Self-distillation: distill.generations.
STREAMED_IMAGES = True  # Trains on image folders / ArrayRecord / TFDS streamed per batch.


def config_blocks() -> dict[str, ml_collections.ConfigDict]:
  loss = ml_collections.ConfigDict()
  loss.type = "softmax"  # softmax | sigmoid | focal | softmax_focal
  loss.gamma = 0.0  # Focusing parameter of focal / softmax_focal.
  loss.class_balanced_beta = 0.0  # > 0: weight examples by effective-number class weights (CB loss).
  loss.reweight_from_epoch = 0  # Deferred re-weighting (DRW): class weights from this epoch on.
  loss.logit_adjustment = 0.0  # τ > 0: train on logits + τ·log(class prior) (softmax losses;
  #                              1 = Balanced Softmax).
  loss.weight = 1.0  # Weight of the task loss; 0 trains on distillation losses alone.
  loss.aux_weight = 0.0  # > 0: each auxiliary classifier's loss weight (GoogLeNet: 0.3); the model
  #                        must return aux_logits.

  m2m = ml_collections.ConfigDict()  # Major-to-minor translation (Kim et al., CVPR 2020).
  m2m.enabled = False
  m2m.from_epoch = 0  # Generation (on a class-balanced over-sampled stream) from this epoch on.
  m2m.generator_workdir = ""  # Workdir of a trained g (same model); empty: train g first (ERM).
  m2m.beta = 0.999  # Seed rejection: accept with 1 − β^{(N_k0 − N_k)^+}.
  m2m.threshold = 0.9  # γ: keep x* if softmax(g(x*))[k] ≥ γ.
  m2m.lam = 0.5  # λ of the seed-class logit of f.
  m2m.step_size = 0.1
  m2m.steps = 10
  m2m.noise = "per_sample"  # per_sample | official (the official per-channel-across-batch cap).

  adv_train = ml_collections.ConfigDict()  # Adversarial training (Madry et al., 2018), if epsilon > 0.
  adv_train.epsilon = 0.0  # PGD radius in input units (robustness lib., CIFAR L2: 0.5; Madry L∞: 8/255).
  adv_train.step_size = 0.0  # (robustness lib. README, CIFAR L2: 1.5 with 20 steps; Madry L∞: 2/255.)
  adv_train.steps = 7  # (robustness lib. default 7; Madry CIFAR 7.)
  adv_train.norm = "l2"  # l2 | linf
  adv_train.random_start = True  # Madry: yes; the robustness lib. default: no.

  constructed = ml_collections.ConfigDict()  # Train on a constructed data set (Ilyas et al., 2019).
  constructed.kind = "none"  # none | det (t = y + 1 mod C) | rand (t uniform) | inversion (D_R / D_NR)
  constructed.source = ml_collections.ConfigDict()  # The source model's config: trained first.
  constructed.source_workdir = ""  # Or a finished run; default WORKDIR/source.
  constructed.epsilon = 0.5  # det / rand: targeted L2 PGD radius, in input units (CIFAR 0.5).
  constructed.step_size = 0.1  # Normalised L2 step (inversion: the robustness lib. example uses 1).
  constructed.steps = 100  # (Inversion: the robustness lib. example uses 10000.)

  eval_pgd = ml_collections.ConfigDict()  # Robust accuracy under PGD, if epsilon > 0.
  eval_pgd.epsilon = 0.0  # In the units of the (standardised) inputs.
  eval_pgd.step_size = 0.0
  eval_pgd.steps = 10
  eval_pgd.norm = "linf"  # linf | l2
  return {"loss": loss, "distill": distillation.config_block(), "m2m": m2m, "adv_train": adv_train,
          "constructed": constructed, "eval_pgd": eval_pgd}


@dataclasses.dataclass(frozen=True)
class Targets:
  """Dense targets and their loss: ``smooth_labels(one_hot(y), ε)`` mixed by mixup (one
  ``λ ~ Beta(α, α)`` per step, partner = the mirror of the global batch) before ``mixup_off_step``;
  ``loss_type`` (see :func:`jaxtricks.losses.soft_target_loss`) of the logits shifted by
  ``τ·log π`` when ``class_counts`` are given (logit adjustment), each example weighted by
  ``targets · w`` (= ``w[y]``) from ``reweight_from_step`` on when ``class_weights`` are given."""

  num_classes: int
  label_smoothing: float = 0.0
  mixup_alpha: float = 0.0
  mixup_off_step: int | None = None  # From this step on, no mixup (GluonCV --mixup-off-epoch).
  loss_type: str = "softmax"
  gamma: float = 0.0
  class_weights: tuple[float, ...] | None = None
  reweight_from_step: int = 0
  logit_adjustment: float = 0.0
  class_counts: tuple[int, ...] | None = None  # The training prior, for the logit adjustment.

  def __call__(self, key, step, images, labels) -> tuple[jax.Array, jax.Array]:
    targets = optax.smooth_labels(jax.nn.one_hot(labels, self.num_classes), self.label_smoothing)
    if self.mixup_alpha <= 0:
      return images, targets
    mixed_images, mixed_targets, _ = mixup(key, images, targets, alpha=self.mixup_alpha, axis_name=AXIS)
    if self.mixup_off_step is None:
      return mixed_images, mixed_targets
    on = step < self.mixup_off_step
    return jnp.where(on, mixed_images, images), jnp.where(on, mixed_targets, targets)

  def loss(self, logits, targets, step) -> jax.Array:
    if self.logit_adjustment:
      logits = logit_adjusted_logits(logits, self.class_counts, tau=self.logit_adjustment)
    per_example = soft_target_loss(logits, targets, loss_type=self.loss_type, gamma=self.gamma)
    if self.class_weights is not None:
      weights = targets @ jnp.asarray(self.class_weights, targets.dtype)
      per_example *= jnp.where(step >= self.reweight_from_step, weights, 1.0)
    return per_example.mean()


@dataclasses.dataclass(frozen=True)
class AdversarialTraining:
  """Madry et al. (ICLR 2018): the batch replaced by PGD examples that maximise the cross-entropy of the
  model at the current parameters, in inference mode as the ``robustness`` library attacks (BN
  statistics, no dropout); random starts keyed by each example's global position; the final iterate;
  no gradient flows through the attack."""
  epsilon: float
  step_size: float
  steps: int
  norm: str = "l2"
  random_start: bool = True
  data_range: tuple[float, float] = (0.0, 1.0)

  def __call__(self, key, logits_fn, images, labels) -> jax.Array:
    loss = lambda x: optax.softmax_cross_entropy_with_integer_labels(logits_fn(x), labels)  # noqa: E731
    adv = pgd(key if self.random_start else None, loss, images, epsilon=self.epsilon,
              step_size=self.step_size, steps=self.steps, norm=self.norm, data_range=self.data_range,
              axis_name=AXIS)
    return lax.stop_gradient(adv)


@dataclasses.dataclass(frozen=True)
class RobustAccuracy:
  """Accuracy under an L∞/L2 PGD attack with random start on the cross-entropy of the model in
  inference mode (Madry et al., ICLR 2018)."""
  epsilon: float
  step_size: float
  steps: int = 10
  norm: str = "linf"
  data_range: tuple[float, float] = (0.0, 1.0)

  def eval_step(self, logits_fn, state, batch) -> EvalOut:
    logits = functools.partial(logits_fn, state)
    loss = lambda x: optax.softmax_cross_entropy_with_integer_labels(logits(x), batch["label"])
    adv = pgd(jax.random.key(0), loss, batch["image"], epsilon=self.epsilon, step_size=self.step_size,
              steps=self.steps, norm=self.norm, data_range=self.data_range, axis_name=AXIS)
    hit = batch["mask"] & (jnp.argmax(logits(adv), -1) == batch["label"])
    return EvalOut({"robust_correct": jnp.sum(hit), "count": jnp.sum(batch["mask"])}, {})

  @staticmethod
  def finalize(sums, rows) -> dict[str, float]:
    return {"eval/robust_accuracy": float(sums["robust_correct"] / sums["count"])}


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Classification(SingleNet):
  """Softmax (or sigmoid / focal) classification: ``task_weight · targets.loss`` plus the
  ``distill`` losses against ``state.frozen["teacher"]`` and, with ``aux_weight > 0``,
  ``aux_weight ×`` the targets' loss of every auxiliary classifier (the model's ``aux_logits``);
  ``m2m`` replaces slots of the augmented batch by translated minority samples of the generator
  ``state.frozen["generator"]``; ``adversarial`` then replaces every image by its PGD example (before
  mixup)."""

  targets: Targets
  m2m: M2mTranslation | None = None
  distill: Distillation | None = None
  task_weight: float = 1.0
  aux_weight: float = 0.0
  adversarial: AdversarialTraining | None = None
  robust: RobustAccuracy | None = None

  def prepare(self, state: TrainState, batch: Batch, keys: StepKeys) -> tuple[Batch, Metrics]:
    images, labels = self.net.augment(keys.augment, batch["image"]), batch["label"]
    metrics = {}
    if self.m2m is not None:
      g_apply = lambda x: self.model.apply(state.frozen["generator"], x, train=False)[0]  # noqa: E731
      f_apply = functools.partial(self.infer, state)
      images, kept = lax.cond(
          state.step >= self.m2m.from_step,
          lambda: self.m2m(keys.m2m, images, labels, g_apply=g_apply, f_apply=f_apply,
                           axis_name=AXIS),
          lambda: (images, jnp.zeros(labels.shape, bool)))
      metrics["m2m_accepted"] = jnp.mean(kept)
    if self.adversarial is not None:
      images = self.adversarial(keys.attack, functools.partial(self.infer, state), images, labels)
    images, targets = self.targets(keys.mix, state.step, images, labels)
    return {**batch, "image": images, "targets": targets}, metrics

  def loss(self, params, state: TrainState, batch: Batch, keys: StepKeys):
    logits, stats, aux = self.apply(params, state, batch["image"], keys)
    task_loss = self.targets.loss(logits, batch["targets"], state.step)
    metrics = {}
    if self.aux_weight:  # Auxiliary classifiers (GoogLeNet): the same targets; absent at inference.
      heads = aux_output(aux, "aux_logits", needed_by=f"loss.aux_weight={self.aux_weight}")
      metrics["aux_loss"] = sum(self.targets.loss(a, batch["targets"], state.step) for a in heads)
      task_loss = task_loss + self.aux_weight * metrics["aux_loss"]
    terms = {}
    if self.distill is not None:
      terms = self.distill.losses(state.frozen["teacher"], batch["image"], logits, aux)
    metrics = {"task_loss": task_loss, **terms, **metrics,
               "accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["label"])}
    return self.task_weight * task_loss + sum(terms.values()), (stats, metrics)

  def eval_specs(self) -> list[EvalSpec]:
    specs = super().eval_specs()
    if self.robust is not None:
      specs.append(EvalSpec(functools.partial(self.robust.eval_step, self.infer), self.robust.finalize))
    return specs


def check(config: ml_collections.ConfigDict) -> None:
  """The values of the classification blocks, before any prerequisite run is trained."""
  if config.loss.type not in SOFT_TARGET_LOSSES:
    raise ValueError(f"loss.type must be one of {SOFT_TARGET_LOSSES}, got {config.loss.type!r}")
  if config.loss.logit_adjustment and config.loss.type not in ("softmax", "softmax_focal"):
    raise ValueError(f"loss.logit_adjustment needs a softmax loss.type ('softmax', 'softmax_focal'), "
                     f"got {config.loss.type!r}")
  if config.loss.logit_adjustment < 0:
    raise ValueError(f"loss.logit_adjustment must be ≥ 0, got {config.loss.logit_adjustment}")
  if config.eval_pgd.norm not in NORMS:
    raise ValueError(f"eval_pgd.norm must be one of {NORMS}, got {config.eval_pgd.norm!r}")
  if config.m2m.noise not in NOISE_MODES:
    raise ValueError(f"m2m.noise must be one of {NOISE_MODES}, got {config.m2m.noise!r}")
  if config.adv_train.norm not in NORMS:
    raise ValueError(f"adv_train.norm must be one of {NORMS}, got {config.adv_train.norm!r}")
  a = config.adv_train
  if a.epsilon < 0 or (a.epsilon > 0 and (a.steps < 1 or a.step_size <= 0)):
    raise ValueError(f"adv_train needs epsilon ≥ 0 and, with epsilon > 0, steps ≥ 1 and step_size > 0; "
                     f"got epsilon={a.epsilon}, steps={a.steps}, step_size={a.step_size}")
  if config.constructed.kind not in ("none",) + CONSTRUCTED_KINDS:
    raise ValueError(f"constructed.kind must be one of {('none',) + CONSTRUCTED_KINDS}, got "
                     f"{config.constructed.kind!r}")
  distillation.check(config)


IN_MEMORY_OPTIONS = ("adv_train.epsilon", "eval_pgd.epsilon", "m2m.enabled", "constructed.kind")


def output_size(config: ml_collections.ConfigDict, num_classes: int) -> int:
  return num_classes


def prediction(config: ml_collections.ConfigDict, num_classes: int) -> Prediction:
  return Prediction(f"class logits [N, {num_classes}] (the main head's, for GoogLeNet)")


def from_config(config: ml_collections.ConfigDict, data: Data, runs, *, batches=None) -> Classification:
  """``batches`` replaces the training stream of ``config`` (its ``steps_per_epoch`` sets the
  schedule's epochs), e.g. an active-learning round's labelled set."""
  check(config)
  train = data.train
  if isinstance(train, ImageDataset):
    for key in IN_MEMORY_OPTIONS:
      section, _, name = key.rpartition(".")
      if config[section][name] not in (0, False, "none"):
        raise ValueError(f"{key} needs images in memory; dataset.source={config.dataset.source!r} "
                         f"streams them")
  extra_metrics = None
  if config.constructed.kind != "none":
    train, extra_metrics = _constructed(config, runs, train)
  m2m = config.m2m.enabled
  if batches is None:  # M2m generates on a class-balanced over-sampled stream.
    batches = (train_batches(config, train, resample="oversample",
                             resample_from_epoch=config.m2m.from_epoch)
               if m2m else train_batches(config, train))
  net = build_net(config, runs, batches, output_size=output_size(config, train.num_classes))
  steps = batches.steps_per_epoch
  off = config.train.mixup_off_epochs
  beta = config.loss.class_balanced_beta
  targets = Targets(
      num_classes=train.num_classes, label_smoothing=config.train.label_smoothing,
      mixup_alpha=config.train.mixup_alpha,
      mixup_off_step=(config.train.num_epochs - off) * steps if off else None,
      loss_type=config.loss.type, gamma=config.loss.gamma,
      class_weights=(tuple(effective_number_weights(train.class_counts(), beta).tolist())
                     if beta > 0 else None),
      reweight_from_step=config.loss.reweight_from_epoch * steps,
      logit_adjustment=config.loss.logit_adjustment, class_counts=tuple(train.class_counts().tolist()))
  distill, frozen = distillation.from_config(config, runs, train.num_classes, net.model.dtype)
  translation = None
  if m2m:
    translation, frozen["generator"] = _m2m(config, runs, train, steps)
  adversarial = robust = None
  a = config.adv_train
  if a.epsilon > 0:
    adversarial = AdversarialTraining(epsilon=a.epsilon, step_size=a.step_size, steps=a.steps, norm=a.norm,
                                      random_start=a.random_start,
                                      data_range=(float(train.images.min()), float(train.images.max())))
  if config.eval_pgd.epsilon > 0:
    robust = RobustAccuracy(epsilon=config.eval_pgd.epsilon, step_size=config.eval_pgd.step_size,
                            steps=config.eval_pgd.steps, norm=config.eval_pgd.norm,
                            data_range=(float(data.test.images.min()), float(data.test.images.max())))
  return Classification(net=net, frozen=frozen, targets=targets, constant_metrics=extra_metrics,
                        m2m=translation, distill=distill, task_weight=config.loss.weight,
                        aux_weight=config.loss.aux_weight, adversarial=adversarial, robust=robust)


def _constructed(config, runs, train) -> tuple[ArrayDataset, dict[str, float]]:
  """The training split turned into D_det / D_rand or, by inversion, D_R / D_NR with the source model
  of ``constructed.source_workdir`` (or ``constructed.source``, trained first into ``WORKDIR/source``),
  in inference mode (BN statistics, no dropout); and the metrics of the construction."""
  c = config.constructed
  apply = runs.load("source", c.source or None, c.source_workdir).inference(train.num_classes)
  data_range = (float(train.images.min()), float(train.images.max()))
  if c.kind == "inversion":
    features = lambda x: aux_output(apply(x)[1], "embedding", needed_by="constructed.kind=inversion")  # noqa: E731
    data, distance = inverted_dataset(features, train, step_size=c.step_size, steps=c.steps,
                                      seed=config.seed, data_range=data_range)
    return data, {f"eval/inversion_distance_{k}": v for k, v in distance.items()}
  data, success = nonrobust_dataset(lambda x: apply(x)[0], train, c.kind, epsilon=c.epsilon,
                                    step_size=c.step_size, steps=c.steps, seed=config.seed,
                                    data_range=data_range)
  return data, {"eval/nonrobust_attack_success": success}


def _m2m(config, runs, train, steps_per_epoch: int) -> tuple[M2mTranslation, dict]:
  """M2m's settings and its generator g: the run at ``m2m.generator_workdir``, or plain ERM on the same
  data and model, trained first into ``WORKDIR/generator``."""
  g_config = None
  if not config.m2m.generator_workdir:
    g_config = ml_collections.ConfigDict(config.to_dict())
    g_config.m2m.enabled = False
    g_config.dataset.resample = "none"
    g_config.loss.update(type="softmax", class_balanced_beta=0.0)
  generator = runs.load("generator", g_config, config.m2m.generator_workdir).variables
  m = config.m2m
  return M2mTranslation(
      samples_per_class=tuple(int(n) for n in train.class_counts()),
      from_step=m.from_epoch * steps_per_epoch,
      data_range=(float(train.images.min()), float(train.images.max())),
      beta=m.beta, threshold=m.threshold, lam=m.lam, step_size=m.step_size, steps=m.steps,
      noise=m.noise), generator
