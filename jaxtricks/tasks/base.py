"""The task protocol, and what every single-network family shares: the train state, the step's random
keys, augmentation and the supervised step.

A *task* (one per family) owns its state, its per-device train step and its evaluators; the trainer
(:func:`jaxtricks.training.fit`) owns time: data order, the parallel path, logging, the evaluation schedule,
checkpoints, resume and the NaN stop, and touches only ``state.step``.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple, Protocol, Sequence

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax
from jax import lax

from jaxtricks.data import ArrayDataset, TrainBatches, random_crop_flip
from jaxtricks.data.randaugment import cutout, op_magnitudes, randaugment, to_float, to_uint8
from jaxtricks.models import create_model
from jaxtricks.optim import create_optimizer, learning_rate_schedule
from jaxtricks.parallel import AXIS, DataParallel
from jaxtricks.transfer import transfer_optimizer, transfer_variables

Batch = dict[str, Any]
Metrics = dict[str, jax.Array]
DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


class Data(NamedTuple):
  train: ArrayDataset
  test: ArrayDataset


class Evaluator(Protocol):
  def run(self, state: Any) -> dict[str, Any]:
    """Metrics of ``state`` on the whole evaluation split, keys prefixed ``eval/``."""


class Runs(Protocol):
  """Prerequisite runs (a KD teacher, a transfer source, an M2m generator), given to task factories."""

  def load(self, name: str, config: ml_collections.ConfigDict | None = None, workdir: str = "",
           *, same_data: bool = True) -> Any:
    """The finished run at ``workdir`` (default ``WORKDIR/<name>``), trained there first if ``config``
    is given; ``.config``, ``.variables`` and ``.model(num_classes, dtype)``."""


class Task(Protocol):
  batches: TrainBatches  # The training stream: batch(step), pure in (seed, step); steps_per_epoch.

  def init(self, seed: int) -> Any:
    """Fresh state: a flax.struct pytree with a scalar ``step``."""

  def train_step(self, state: Any, batch: Batch) -> tuple[Any, Metrics]:
    """Per device; collectives over ``AXIS``. Every metric whose name ends in ``loss`` is NaN-checked."""

  def evaluators(self, test: ArrayDataset, *, batch_size: int,
                 parallel: DataParallel) -> Sequence[Evaluator]:
    ...


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: Any
  batch_stats: Any
  opt_state: Any
  rng: jax.Array  # Raw uint32 key data, so checkpoints stay plain arrays.
  frozen: dict = dataclasses.field(default_factory=dict)  # Frozen networks (KD teacher, M2m g).

  @property
  def variables(self) -> dict[str, Any]:
    return {"params": self.params, "batch_stats": self.batch_stats}


@functools.partial(jax.jit, static_argnames=("model",))
def _init_variables(model: nn.Module, rng: jax.Array, *inputs: jax.Array):
  return model.init(rng, *inputs, train=False)  # Compiled once per model (modules are hashable).


def create_train_state(model: nn.Module, tx: optax.GradientTransformation,
                       example: jax.Array | tuple[jax.Array, ...], seed: int, *,
                       frozen: dict | None = None) -> TrainState:
  """Initialises parameters from one example batch ``[b, H, W, C]`` (or a tuple of the network's
  inputs) with ``random.key(seed)``."""
  init_rng, state_rng = jax.random.split(jax.random.key(seed))
  inputs = example if isinstance(example, tuple) else (example,)
  variables = _init_variables(model, init_rng, *map(jnp.asarray, inputs))
  params = variables["params"]
  return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                    batch_stats=variables.get("batch_stats", {}), opt_state=tx.init(params),
                    rng=jax.random.key_data(state_rng), frozen=frozen or {})


class StepKeys(NamedTuple):
  """This step's keys, the same on every device: per-example draws fold in the global position."""
  augment: jax.Array
  mix: jax.Array
  model: jax.Array


def step_keys(state: TrainState) -> StepKeys:
  key = jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)
  return StepKeys(*jax.random.split(key, 3))


@dataclasses.dataclass(frozen=True)
class Augment:
  """Pad-and-random-crop and horizontal flip, then RandAugment and Cutout, per example, keyed by the
  global position. RandAugment works on [0, 1] pixels (rounded to uint8 and back)."""
  crop_padding: int = 0
  flip: bool = False
  randaugment_ops: int = 0
  randaugment_magnitude: float = 9
  randaugment_policy: str = "torchvision"
  cutout: int = 0

  def __post_init__(self):
    op_magnitudes(self.randaugment_policy, self.randaugment_magnitude, 32)  # Names a bad option.
    if self.randaugment_ops < 0 or self.cutout < 0:
      raise ValueError(f"augment.randaugment_ops and augment.cutout must be >= 0, got "
                       f"{self.randaugment_ops} and {self.cutout}")

  def __call__(self, key: jax.Array, images: jax.Array) -> jax.Array:
    images = random_crop_flip(key, images, padding=self.crop_padding, flip=self.flip, axis_name=AXIS)
    # The crop folds example positions into ``key``; these two streams use data no position reaches.
    ra_key, cutout_key = jax.random.fold_in(key, 2**31 - 1), jax.random.fold_in(key, 2**31 - 2)
    if self.randaugment_ops:
      pixels = randaugment(ra_key, to_uint8(images), num_ops=self.randaugment_ops,
                           magnitude=self.randaugment_magnitude, policy=self.randaugment_policy,
                           axis_name=AXIS)
      images = to_float(pixels).astype(images.dtype)
    return cutout(cutout_key, images, size=self.cutout, axis_name=AXIS)

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict) -> "Augment":
    a = config.augment
    if a.randaugment_ops and config.dataset.standardize:
      raise ValueError("augment.randaugment_ops needs dataset.standardize=False: RandAugment works on "
                       "[0, 1] pixels")
    return cls(a.crop_padding, a.flip, a.randaugment_ops, a.randaugment_magnitude, a.randaugment_policy,
               a.cutout)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class SingleNet:
  """A family with one network and one optimizer, trained by :meth:`train_step` on ``loss``.

  ``prepare`` runs outside the gradient (augmentation, ...) and returns ``(batch, metrics)``;
  ``loss(params, state, batch, keys)`` returns ``(scalar, (batch_stats, metrics))`` on this device's
  shard. Gradients, BatchNorm statistics and metrics are averaged over devices. ``pretrained``
  variables (transfer learning) replace the fresh ones at :meth:`init`, except the output head;
  ``frozen`` variables ride in ``state.frozen``.
  With ``frozen_backbone`` the network runs in inference mode and its BN statistics stay as they are.
  """

  model: nn.Module
  tx: optax.GradientTransformation
  schedule: optax.Schedule
  batches: TrainBatches
  augment: Augment = Augment()
  frozen_backbone: bool = False
  pretrained: dict | None = None
  frozen: dict = dataclasses.field(default_factory=dict)

  def example_inputs(self) -> tuple:
    """The network's inputs for one training example (initialisation)."""
    return (self.batches.dataset.images[:1],)

  def init(self, seed: int) -> TrainState:
    state = create_train_state(self.model, self.tx, self.example_inputs(), seed, frozen=self.frozen)
    if self.pretrained is None:
      return state
    loaded = transfer_variables(state.variables, self.pretrained)
    return state.replace(**loaded, opt_state=self.tx.init(loaded["params"]))

  def apply(self, params, state: TrainState, images: jax.Array | tuple, keys: StepKeys):
    """``(outputs, batch_stats, intermediates)`` of the network in training mode on ``images`` (or a
    tuple of the network's inputs)."""
    inputs = images if isinstance(images, tuple) else (images,)
    out, updates = self.model.apply(
        {"params": params, "batch_stats": state.batch_stats}, *inputs, train=not self.frozen_backbone,
        rngs={"dropout": keys.model, "prior": jax.random.fold_in(keys.model, 1)},
        mutable=["batch_stats", "intermediates"])
    return out, updates.get("batch_stats", {}), updates.get("intermediates", {})

  def prepare(self, state: TrainState, batch: Batch, keys: StepKeys) -> tuple[Batch, Metrics]:
    return {**batch, "image": self.augment(keys.augment, batch["image"])}, {}

  def loss(self, params, state: TrainState, batch: Batch, keys: StepKeys):
    raise NotImplementedError

  def train_step(self, state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
    keys = step_keys(state)
    batch, metrics = self.prepare(state, batch, keys)
    (loss, (stats, loss_metrics)), grads = jax.value_and_grad(self.loss, has_aux=True)(
        state.params, state, batch, keys)
    grads = lax.pmean(grads, AXIS)
    updates, opt_state = self.tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    stats = state.batch_stats if self.frozen_backbone else lax.pmean(stats, AXIS)
    metrics = lax.pmean({"loss": loss, **metrics, **loss_metrics}, AXIS)
    metrics["lr"] = self.schedule(state.step + 1)
    return state.replace(step=state.step + 1, params=params, batch_stats=stats,
                         opt_state=opt_state), metrics

  def infer(self, state: TrainState, images: jax.Array | tuple) -> jax.Array:
    """The network's outputs in inference mode (``images``: or a tuple of the network's inputs)."""
    inputs = images if isinstance(images, tuple) else (images,)
    return self.model.apply(state.variables, *inputs, train=False)


def train_batches(config: ml_collections.ConfigDict, train: ArrayDataset, **overrides) -> TrainBatches:
  """This host's share of the training stream of ``config`` (``overrides``: e.g. resampling)."""
  kwargs = dict(batch_size=config.train.batch_size, seed=config.seed, resample=config.dataset.resample,
                resample_from_epoch=config.dataset.resample_from_epoch, smote_k=config.dataset.smote_k)
  return TrainBatches(train, process_index=jax.process_index(), process_count=jax.process_count(), **{**kwargs, **overrides})


def single_net_parts(config: ml_collections.ConfigDict, runs: Runs, batches: TrainBatches, *,
                     output_size: int, wrap=None) -> dict[str, Any]:
  """The :class:`SingleNet` fields that the shared config blocks define: the model (``config.dtype``
  compute; ``wrap`` it, e.g. with reciprocal points), the LR schedule and optimizer with the
  ``transfer`` options, augmentation, and the pretrained variables of ``transfer.init_from`` (or of
  ``transfer.pretrain``, trained first into ``WORKDIR/pretrained``)."""
  if config.dtype not in DTYPES:
    raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {config.dtype!r}")
  model = create_model(config.model, num_classes=output_size, dtype=DTYPES[config.dtype])
  if wrap is not None:
    model = wrap(model)
  schedule = learning_rate_schedule(config.optim, steps_per_epoch=batches.steps_per_epoch,
                                    num_epochs=config.train.num_epochs,
                                    global_batch=config.train.batch_size)
  t = config.transfer
  tx = transfer_optimizer(create_optimizer(config.optim, schedule), freeze_backbone=t.freeze_backbone,
                          backbone_lr_factor=t.backbone_lr_factor)
  pretrained = None
  if t.pretrain or t.init_from:
    pretrained = runs.load("pretrained", t.pretrain or None, t.init_from, same_data=False).variables
  return dict(model=model, tx=tx, schedule=schedule, batches=batches,
              augment=Augment.from_config(config),
              frozen_backbone=t.freeze_backbone, pretrained=pretrained)


CLASSIFICATION_TARGETS = ("train.label_smoothing", "train.mixup_alpha", "train.mixup_off_epochs")
IMAGE_AUGMENTATION = ("augment.crop_padding", "augment.flip", "augment.randaugment_ops", "augment.cutout")


def reject_options(config: ml_collections.ConfigDict, task: str, keys: Sequence[str]) -> None:
  """A ``ValueError`` naming the first of ``keys`` (dotted) set away from 0 / False / empty: options
  that ``task`` does not act on."""
  for key in keys:
    section, _, name = key.rpartition(".")
    value = (config[section] if section else config)[name]
    if value:
      raise ValueError(f"task={task!r} does not use {key} (got {value!r}): leave it at its default")
