"""Train state and pure per-device train/eval steps; ``parallelize`` runs them under pmap or jit.

Each step is written for one device: collectives use the axis name ``'batch'``. ``parallelize`` maps
it over a leading device axis — ``jax.pmap`` over all local devices, or ``jax.jit`` of a ``vmap`` over
a single device — so both paths execute the same code with the same meaning.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from jaxtricks.adversarial import pgd
from jaxtricks.data.augment import mixup, random_crop_flip
from jaxtricks.imbalance.m2m import M2mGeneration
from jaxtricks.losses.classification import soft_target_loss
from jaxtricks.losses.distillation import kd_loss, rkd_angle_loss, rkd_distance_loss
from jaxtricks.losses.label_augmentation import label_augment, sla_predictions, sla_task_loss
from jaxtricks.losses.infomax import (donsker_varadhan_loss, fenchel_dual_loss, infonce_loss,
                                      prior_matching_losses)
from jaxtricks.losses.open_set import arpl_loss, open_set_logits, rpl_loss
from jaxtricks.losses.metric_learning import batch_hard_triplet_loss, valid_triplet_anchors
from jaxtricks.metrics.classification import per_class_counts

AXIS = "batch"
PARALLEL = ("pmap", "jit")
TASKS = ("classification", "metric_learning", "sla", "open_set", "infomax")
INFOMAX_ESTIMATORS = {"jsd": functools.partial(fenchel_dual_loss, measure="JSD"),
                      "nce": infonce_loss, "dv": donsker_varadhan_loss}
FEATURES = ("output", "embedding")


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: Any
  batch_stats: Any
  opt_state: Any
  rng: jax.Array  # Raw uint32 key data, so checkpoints stay plain arrays.
  teacher: Any = None  # Variables of a frozen distillation teacher: never updated.


@functools.partial(jax.jit, static_argnames=("model",))
def _init_variables(model: nn.Module, rng: jax.Array, example: jax.Array):
  return model.init(rng, example, train=False)  # Compiled once per model (modules are hashable).


def create_train_state(model: nn.Module, tx: optax.GradientTransformation, example: jax.Array,
                       seed: int) -> TrainState:
  """Initialises parameters from one example batch ``[b, H, W, C]`` with ``random.key(seed)``."""
  init_rng, state_rng = jax.random.split(jax.random.key(seed))
  variables = _init_variables(model, init_rng, jnp.asarray(example))
  params = variables["params"]
  return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                    batch_stats=variables.get("batch_stats", {}), opt_state=tx.init(params),
                    rng=jax.random.key_data(state_rng))


@dataclasses.dataclass(frozen=True)
class Recipe:
  """The per-step tricks of the classification recipe (Bag of Tricks, He et al., CVPR 2019)."""

  num_classes: int
  label_smoothing: float = 0.0
  mixup_alpha: float = 0.0
  mixup_off_step: int | None = None  # From this step on, no mixup (GluonCV --mixup-off-epoch).
  crop_padding: int = 0
  flip: bool = False
  loss_type: str = "softmax"  # See jaxtricks.losses.soft_target_loss.
  gamma: float = 0.0
  class_weights: tuple[float, ...] | None = None  # Per-class loss weights (class-balanced loss).
  reweight_from_step: int = 0  # Deferred re-weighting: unweighted before this step.
  task: str = "classification"  # classification | metric_learning (batch-hard triplet on the outputs) | sla
  sla_transform: str = "rotation"  # SLA: rotation | color_perm
  sla_mode: str = "sla"  # SLA: sla | sla_sd | da | mt (see jaxtricks.losses.label_augmentation)
  sla_temperature: float = 1.0
  open_set_loss: str = "softmax"  # open_set: softmax | rpl | arpl (see jaxtricks.losses.open_set)
  num_centers: int = 1  # open_set: reciprocal points per class (RPL).
  open_set_temperature: float = 1.0
  open_set_weight: float = 0.1  # Weight of the open-space (radius) term.
  official_indexing: bool = False  # RPL with K > 1: the official code's row indexing of the points.
  infomax_estimator: str = "jsd"  # infomax: jsd | nce | dv (local DIM)
  prior_weight: float = 0.0  # infomax: weight of adversarial prior matching on the code.
  task_weight: float = 1.0  # Weight of the task loss (0: a distillation-only student).
  margin: float = 0.2  # Triplet margin (metric_learning).
  frozen_backbone: bool = False  # Run the model in inference mode: BN statistics stay as loaded.


@dataclasses.dataclass(frozen=True)
class Distillation:
  """Losses against a frozen teacher whose variables are ``TrainState.teacher``.

  ``kd_weight·KD(T)`` on the outputs (Hinton et al., 2015) and ``rkd_distance_weight·RKD-D +
  rkd_angle_weight·RKD-A`` (Park et al., CVPR 2019) on ``features``: the outputs, or the pooled
  penultimate ``embedding``. The teacher runs in inference mode (BatchNorm statistics, no dropout)
  on the same augmented images as the student, under ``stop_gradient``.
  """

  teacher: nn.Module
  kd_weight: float = 0.0
  temperature: float = 4.0
  rkd_distance_weight: float = 0.0
  rkd_angle_weight: float = 0.0
  features: str = "output"

  def __post_init__(self):
    if self.features not in FEATURES:
      raise ValueError(f"distill.features must be one of {FEATURES}, got {self.features!r}")

  def losses(self, teacher_variables, images, outputs, embedding) -> dict[str, jax.Array]:
    t_out, t_state = self.teacher.apply(teacher_variables, images, train=False,
                                        mutable=["intermediates"])
    t_out = lax.stop_gradient(t_out)
    out = {}
    if self.kd_weight:
      out["kd"] = self.kd_weight * kd_loss(outputs, t_out, temperature=self.temperature).mean()
    if self.rkd_distance_weight or self.rkd_angle_weight:
      student = outputs if self.features == "output" else embedding
      teacher = t_out if self.features == "output" else t_state["intermediates"]["embedding"][0]
      teacher = lax.stop_gradient(teacher.astype(jnp.float32))
      student = student.astype(jnp.float32)
      if self.rkd_distance_weight:
        out["rkd_distance"] = self.rkd_distance_weight * rkd_distance_loss(student, teacher)
      if self.rkd_angle_weight:
        out["rkd_angle"] = self.rkd_angle_weight * rkd_angle_loss(student, teacher)
    return out


def _step_rngs(state: TrainState) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Keys for this step: mixup (shared by all devices), augmentation and dropout (per device)."""
  shared = jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)
  mix_rng, device_rng = jax.random.split(shared)
  aug_rng, dropout_rng = jax.random.split(jax.random.fold_in(device_rng, lax.axis_index(AXIS)))
  return mix_rng, aug_rng, dropout_rng


def infomax_loss(intermediates, *, estimator: str, prior_weight: float = 0.0) -> jax.Array:
  """Local DIM: the MI estimator between the sown local and global MI-network outputs, plus
  ``prior_weight`` × the prior-matching discriminator loss (GAN measure; the encoder side is reversed
  by the model's gradient-reversal layer)."""
  loss = INFOMAX_ESTIMATORS[estimator](intermediates["local_mi"][0], intermediates["global_mi"][0])
  if prior_weight:
    d_prior, d_code = intermediates["prior_scores"][0]
    loss = loss + prior_weight * prior_matching_losses(d_prior, d_code)["discriminator"]
  return loss


def _task_loss(recipe: Recipe, params, outputs, labels, targets, joint_labels, step,
               intermediates) -> jax.Array:
  """The batch-mean loss of ``recipe.task`` on this shard's model outputs."""
  if recipe.task == "infomax":
    return infomax_loss(intermediates, estimator=recipe.infomax_estimator,
                        prior_weight=recipe.prior_weight)
  if recipe.task == "sla":
    return sla_task_loss(outputs, labels, joint_labels, mode=recipe.sla_mode,
                         num_classes=recipe.num_classes,
                         num_transforms=outputs.shape[0] // labels.shape[0],
                         temperature=recipe.sla_temperature)
  if recipe.task == "open_set" and recipe.open_set_loss != "softmax":
    kwargs = dict(temperature=recipe.open_set_temperature, weight=recipe.open_set_weight)
    if recipe.open_set_loss == "rpl":
      return rpl_loss(outputs, labels, params["points"], params["radius"],
                      num_centers=recipe.num_centers, official_indexing=recipe.official_indexing,
                      **kwargs).mean()
    return arpl_loss(outputs, labels, params["points"], params["radius"], **kwargs).mean()
  if recipe.task == "metric_learning":
    per_example = batch_hard_triplet_loss(outputs, labels, margin=recipe.margin)
    return jnp.sum(per_example) / jnp.maximum(jnp.sum(valid_triplet_anchors(labels)), 1)
  per_example = soft_target_loss(outputs, targets, loss_type=recipe.loss_type, gamma=recipe.gamma)
  if recipe.class_weights is not None:
    weights = targets @ jnp.asarray(recipe.class_weights, targets.dtype)  # w[y], one-hot targets.
    per_example *= jnp.where(step >= recipe.reweight_from_step, weights, 1.0)
  return per_example.mean()


def train_step(state: TrainState, batch: dict[str, jax.Array], *, model: nn.Module,
               tx: optax.GradientTransformation, recipe: Recipe,
               schedule: Callable[[jax.Array], jax.Array],
               distill: Distillation | None = None,
               m2m: M2mGeneration | None = None) -> tuple[TrainState, dict[str, jax.Array]]:
  """One SGD step on this device's shard; gradients, BN statistics and metrics are averaged over devices.

  Loss: ``recipe.loss_type`` (softmax cross-entropy by default) against
  ``optax.smooth_labels(one_hot(y), ε)``, mixed by mixup (one ``λ ~ Beta(α, α)`` shared by all devices,
  partner = reversed shard) when ``mixup_alpha > 0``; with ``class_weights`` each example is weighted
  by ``targets · w`` (= ``w[y]``) from ``reweight_from_step`` on. Other ``recipe.task`` values replace
  this loss (:func:`_task_loss`): the batch-hard triplet loss on embeddings (``metric_learning``), SLA
  on the M transformed copies of the batch (``sla``), RPL/ARPL (``open_set``).
  The task loss is weighted by ``recipe.task_weight``; ``distill``, if given, adds its losses against
  the frozen teacher in ``state.teacher``, which sees the same augmented (and mixed) images.
  ``m2m``, if given, replaces slots of the
  augmented batch by translated minority samples from ``m2m.from_step`` on (Kim et al., CVPR 2020).
  """
  mix_rng, aug_rng, dropout_rng = _step_rngs(state)
  images, labels = batch["image"], batch["label"]
  images = random_crop_flip(aug_rng, images, padding=recipe.crop_padding, flip=recipe.flip)
  metrics = {}
  if m2m is not None:
    variables = {"params": state.params, "batch_stats": state.batch_stats}
    f_apply = lambda x: model.apply(variables, x, train=False)
    images, kept = lax.cond(state.step >= m2m.from_step,
                            lambda: m2m(jax.random.fold_in(aug_rng, 1), images, labels, f_apply),
                            lambda: (images, jnp.zeros(labels.shape, bool)))
    metrics["m2m_accepted"] = jnp.mean(kept)
  joint_labels = None
  if recipe.task == "sla":  # M transformed copies of every image, sample-major.
    images, joint_labels = label_augment(images, labels, recipe.sla_transform)
  targets = optax.smooth_labels(jax.nn.one_hot(labels, recipe.num_classes), recipe.label_smoothing)
  if recipe.mixup_alpha > 0:
    mixed_images, mixed_targets, lam = mixup(mix_rng, images, targets, alpha=recipe.mixup_alpha)
    if recipe.mixup_off_step is not None:
      on = state.step < recipe.mixup_off_step
      mixed_images = jnp.where(on, mixed_images, images)
      mixed_targets = jnp.where(on, mixed_targets, targets)
    images, targets = mixed_images, mixed_targets

  need_embedding = distill is not None and distill.features == "embedding"

  def loss_fn(params):
    mutable = ["batch_stats"]
    if need_embedding or recipe.task == "infomax":
      mutable.append("intermediates")
    rngs = {"dropout": dropout_rng, "prior": jax.random.fold_in(dropout_rng, 1)}
    logits, updates = model.apply({"params": params, "batch_stats": state.batch_stats}, images,
                                  train=not recipe.frozen_backbone, rngs=rngs, mutable=mutable)
    task_loss = _task_loss(recipe, params, logits, labels, targets, joint_labels, state.step,
                           updates.get("intermediates"))
    parts = {"task_loss": task_loss}
    loss = recipe.task_weight * task_loss
    if distill is not None:
      embedding = updates["intermediates"]["embedding"][0] if need_embedding else None
      terms = distill.losses(state.teacher, images, logits, embedding)
      loss = loss + sum(terms.values())
      parts.update(terms)
    return loss, (logits, updates.get("batch_stats", {}), parts)

  (loss, (logits, batch_stats, parts)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  grads = lax.pmean(grads, AXIS)
  batch_stats = state.batch_stats if recipe.frozen_backbone else lax.pmean(batch_stats, AXIS)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  metrics.update(loss=loss, **parts)
  if recipe.task == "classification":
    metrics["accuracy"] = jnp.mean(jnp.argmax(logits, -1) == labels)
  metrics = lax.pmean(metrics, AXIS)
  metrics["lr"] = schedule(state.step + 1)
  new_state = state.replace(step=state.step + 1, params=params, batch_stats=batch_stats,
                            opt_state=opt_state)
  return new_state, metrics


def eval_step(state: TrainState, batch: dict[str, jax.Array], *, model: nn.Module,
              num_classes: int, recipe: Recipe | None = None) -> dict[str, jax.Array]:
  """Sums over devices of the masked loss, example count and per-class hit/total counts.

  For ``recipe.task == "sla"`` the model sees the transformed copies and the counts are those of the
  mode's main prediction; the other predictions add ``correct_<name>`` counts.
  """
  variables = {"params": state.params, "batch_stats": state.batch_stats}
  images, labels, mask = batch["image"], batch["label"], batch["mask"]
  extra = {}
  if recipe is not None and recipe.task == "sla":
    copies, _ = label_augment(images, labels, recipe.sla_transform)
    outputs = model.apply(variables, copies, train=False)
    predictions = sla_predictions(outputs, mode=recipe.sla_mode, num_classes=num_classes,
                                  num_transforms=copies.shape[0] // images.shape[0])
    logits, *_ = predictions.values()
    extra = {f"correct_{name}": jnp.sum(mask & (jnp.argmax(p, -1) == labels))
             for name, p in list(predictions.items())[1:]}
  else:
    logits = model.apply(variables, images, train=False)
  loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
  correct, total = per_class_counts(logits, labels, num_classes, where=mask)
  sums = {"loss_sum": jnp.sum(jnp.where(mask, loss, 0.0)), "count": jnp.sum(mask),
          "correct": correct, "total": total, **extra}
  return lax.psum(sums, AXIS)


def robust_eval_step(state: TrainState, batch: dict[str, jax.Array], *, model: nn.Module,
                     epsilon: float, step_size: float, steps: int, norm: str,
                     data_range: tuple[float, float]) -> dict[str, jax.Array]:
  """Correct-prediction count (summed over devices) under a PGD attack with random start on the
  cross-entropy of the model in inference mode (Madry et al., ICLR 2018)."""
  variables = {"params": state.params, "batch_stats": state.batch_stats}
  logits_fn = lambda x: model.apply(variables, x, train=False)
  loss_fn = lambda x: optax.softmax_cross_entropy_with_integer_labels(logits_fn(x), batch["label"])
  key = jax.random.fold_in(jax.random.key(0), lax.axis_index(AXIS))
  adv = pgd(key, loss_fn, batch["image"], epsilon=epsilon, step_size=step_size, steps=steps,
            norm=norm, data_range=data_range)
  hit = batch["mask"] & (jnp.argmax(logits_fn(adv), -1) == batch["label"])
  return lax.psum({"robust_correct": jnp.sum(hit)}, AXIS)


def embed_step(state: TrainState, batch: dict[str, jax.Array], *, model: nn.Module) -> jax.Array:
  """The model's outputs on this device's shard, in inference mode (embeddings of a metric model)."""
  return model.apply({"params": state.params, "batch_stats": state.batch_stats}, batch["image"],
                     train=False)


def infomax_eval_step(state: TrainState, batch: dict[str, jax.Array], *, model: nn.Module,
                      recipe: Recipe) -> jax.Array:
  """The MI estimator's loss on this shard, averaged over devices (inference mode, no prior term)."""
  _, inter = model.apply({"params": state.params, "batch_stats": state.batch_stats}, batch["image"],
                         train=False, mutable=["intermediates"])
  return lax.pmean(infomax_loss(inter["intermediates"], estimator=recipe.infomax_estimator), AXIS)


def open_set_step(state: TrainState, batch: dict[str, jax.Array], *, model: nn.Module,
                  recipe: Recipe) -> jax.Array:
  """Per-device class logits of an open-set model (see ``jaxtricks.losses.open_set_logits``)."""
  outputs = model.apply({"params": state.params, "batch_stats": state.batch_stats}, batch["image"],
                        train=False)
  return open_set_logits(outputs, state.params, loss=recipe.open_set_loss,
                         num_centers=recipe.num_centers)


def place_state(state: TrainState, parallel: str) -> TrainState:
  """Puts ``state`` where ``parallelize``'s outputs live (replicated over the local devices for pmap),
  so that the first and later steps share one compilation."""
  if parallel == "pmap":
    mesh = Mesh(np.array(jax.local_devices()), (AXIS,), axis_types=(AxisType.Auto,))
    return jax.device_put(state, NamedSharding(mesh, PartitionSpec()))
  return jax.device_put(state, jax.local_devices()[0])


def parallelize(step: Callable, parallel: str, *, per_device_output: bool = False) -> Callable:
  """Maps a per-device ``step(state, batch)`` over the leading device axis of ``batch``.

  The state is passed unreplicated (``in_axes=None``). Outputs are returned unreplicated too
  (``out_axes=None``: they must be identical across devices, as after ``lax.pmean``/``psum``), or
  stacked over devices with ``per_device_output``.
  """
  kwargs = dict(in_axes=(None, 0), out_axes=0 if per_device_output else None, axis_name=AXIS)
  if parallel == "pmap":
    return jax.pmap(step, **kwargs)
  if parallel == "jit":
    return jax.jit(jax.vmap(step, **kwargs))
  raise ValueError(f"parallel must be one of {PARALLEL}, got {parallel!r}")
