"""The protocols of a training family (:class:`Family`, :class:`Task`, :class:`Batches`), and what every
single-network family shares: the train state, the step's named random streams (:class:`StepKeys`),
augmentation, the network and its optimizer (:class:`Net`) and the supervised step (:class:`SingleNet`).

A *task* (one per family) owns its state, its per-device train step and its evaluators; the trainer
(:func:`jaxtricks.training.fit`) owns time: data order, the parallel path, logging, the evaluation schedule,
checkpoints, resume and the NaN stop, and touches only ``state.step``.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Iterator, NamedTuple, Protocol, Sequence

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from jax import lax

from jaxtricks.data import ArrayDataset, ImageDataset, TrainBatches, random_crop_flip
from jaxtricks.data.randaugment import cutout, op_magnitudes, randaugment, to_float, to_uint8
from jaxtricks.models import create_model
from jaxtricks.optim import create_optimizer, learning_rate_schedule
from jaxtricks.parallel import AXIS, DataParallel
from jaxtricks.tasks.evaluation import (EvalOut, EvalSpec, build_evaluators, classification_metrics,
                                        classification_sums)
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


class Batches(Protocol):
  """A training stream: ``batch(step)`` is a pure function of ``(seed, step)`` (resume is exact),
  this host's rows of the global batch."""
  steps_per_epoch: int
  dataset: ArrayDataset | ImageDataset  # What the run trains on (its class counts are reported).

  def batch(self, step: int) -> Batch:
    ...

  def iterate(self, start_step: int, stop_step: int) -> Iterator[Batch]:
    """``batch(step)`` for ``start_step <= step < stop_step``, possibly prepared ahead."""


class Task(Protocol):
  """What :func:`jaxtricks.training.fit` runs: built by a family's ``from_config``."""
  batches: Batches

  def init(self, seed: int) -> Any:
    """Fresh state: a flax.struct pytree with a scalar ``step``."""

  def train_step(self, state: Any, batch: Batch) -> tuple[Any, Metrics]:
    """Per device; collectives over ``AXIS``. Every metric whose name ends in ``loss`` is NaN-checked."""

  def evaluators(self, test: ArrayDataset, *, batch_size: int,
                 parallel: DataParallel) -> Sequence[Evaluator]:
    ...


class Family(Protocol):
  """A training family: one module of :mod:`jaxtricks.tasks`, named by ``config.task``."""
  GENERATIONS: str | None  # The config block with teacher, teacher_workdir and generations, if any.
  STREAMED_IMAGES: bool  # Takes streamed image data sets (ImageDataset), not only in-memory ones.

  def config_blocks(self) -> dict[str, ml_collections.ConfigDict]:
    """The family's own config blocks with their defaults."""

  def output_size(self, config: ml_collections.ConfigDict, num_classes: int) -> int:
    """The network's output size for ``num_classes`` classes (a finished run's network is rebuilt
    from it)."""

  def prediction(self, config: ml_collections.ConfigDict, num_classes: int) -> "Prediction":
    """What a finished run of ``config`` predicts per example (:func:`jaxtricks.load_run`); a family
    without a per-example output raises a ``ValueError`` saying what it gives instead."""

  def from_config(self, config: ml_collections.ConfigDict, data: Data, runs: Runs) -> Task:
    """The task of ``config``: checks the family's blocks (a ``ValueError`` naming the key), then
    trains or loads the prerequisite runs it needs."""


def network_outputs(model: nn.Module, variables: dict, *inputs: jax.Array) -> jax.Array:
  """The network's main output in inference mode (BatchNorm statistics, no dropout)."""
  return model.apply(variables, *inputs, train=False)[0]


class Prediction(NamedTuple):
  """A family's per-example output of a finished run: ``outputs`` says what it is, ``apply(model,
  variables, *inputs)`` computes it in inference mode from the network's ``inputs`` (batch keys, the
  image first), and ``wrap`` rebuilds the network as the family trains it (e.g. reciprocal points)."""
  outputs: str
  apply: Callable[..., jax.Array] = network_outputs
  inputs: tuple[str, ...] = ("image",)
  wrap: Callable[[nn.Module], nn.Module] | None = None


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
                    batch_stats=variables.get("batch_stats", {}),
                    opt_state=jax.jit(tx.init)(params),  # One program, not one per parameter shape.
                    rng=jax.random.key_data(state_rng), frozen=frozen or {})


class StepKeys(NamedTuple):
  """Every random stream of one step, carved from the step's key by one ``split``; the same on every
  device. A per-example draw folds the example's global position into its own stream only."""
  augment: jax.Array  # Crop, flip, RandAugment, Cutout (Augment splits it into its three streams).
  mix: jax.Array  # Mixup's λ.
  model: jax.Array  # The network's "dropout" rng: dropout, stochastic depth.
  prior: jax.Array  # The network's "prior" rng: Deep InfoMax's prior samples.
  m2m: jax.Array  # M2m's seed rejection and noise.
  latent: jax.Array  # InfoGAN: the discriminator step's latents,
  latent_generator: jax.Array  # and the generator step's.
  unlabelled: jax.Array  # The unlabelled batch's own StepKeys (semi-supervised): ``.for_unlabelled()``.
  attack: jax.Array  # Adversarial training's random starts. (A new stream goes last: with JAX's
  #                    partitionable threefry the streams above keep their keys.)

  @classmethod
  def from_key(cls, key: jax.Array) -> "StepKeys":
    return cls(*jax.random.split(key, len(cls._fields)))

  def for_unlabelled(self) -> "StepKeys":
    return StepKeys.from_key(self.unlabelled)

  @property
  def rngs(self) -> dict[str, jax.Array]:
    """The network's flax rng streams."""
    return {"dropout": self.model, "prior": self.prior}


def step_keys(state: Any) -> StepKeys:
  """The streams of step ``state.step`` of the run seeded into ``state.rng``."""
  return StepKeys.from_key(jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step))


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
    crop_key, ra_key, cutout_key = jax.random.split(key, 3)  # Each folds in example positions.
    images = random_crop_flip(crop_key, images, padding=self.crop_padding, flip=self.flip,
                              axis_name=AXIS)
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


@dataclasses.dataclass(frozen=True)
class Pixels:
  """Streamed images arrive on the device as uint8: ``x / 255``, then ``(x − mean) / std`` per channel.
  Float inputs (in-memory data sets, already scaled) pass unchanged."""
  mean: tuple[float, ...] = (0.0,)
  std: tuple[float, ...] = (1.0,)

  def __call__(self, images: jax.Array) -> jax.Array:
    if images.dtype != jnp.uint8:
      return images
    return (images.astype(jnp.float32) / 255 - jnp.asarray(self.mean)) / jnp.asarray(self.std)

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict) -> "Pixels":
    d = config.dataset
    return cls(tuple(d.pixel_mean), tuple(d.pixel_std)) if d.standardize else cls()


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Net:
  """One network and how it is trained: the model, its optimizer and LR schedule, the training
  stream and augmentation. ``pretrained`` variables (transfer learning) replace the fresh ones at
  :meth:`SingleNet.init`, except the output head; with ``frozen_backbone`` the network runs in
  inference mode and its BatchNorm statistics stay as they are."""
  model: nn.Module
  tx: optax.GradientTransformation
  schedule: optax.Schedule
  batches: Batches
  augment: Augment = Augment()
  pixels: Pixels = Pixels()
  frozen_backbone: bool = False
  pretrained: dict | None = None


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class SingleNet:
  """A family with one network :class:`Net`, trained by :meth:`train_step` on ``loss``.

  ``prepare`` runs outside the gradient (augmentation, ...) and returns ``(batch, metrics)``;
  ``loss(params, state, batch, keys)`` returns ``(scalar, (batch_stats, metrics))`` on this device's
  shard. Gradients, BatchNorm statistics and metrics are averaged over devices. ``frozen`` variables
  (a KD teacher, an M2m generator) ride in ``state.frozen``. Evaluated by ``eval_step`` and
  ``finalize`` (by default: classification of the test split) and the ``constant_metrics``.
  """

  net: Net
  frozen: dict = dataclasses.field(default_factory=dict)
  constant_metrics: dict | None = None  # Fixed eval/ values measured once (e.g. an attack's success).

  @property
  def model(self) -> nn.Module:
    return self.net.model

  @property
  def batches(self) -> Batches:
    return self.net.batches

  def example_inputs(self) -> tuple:
    """The network's inputs for one training example (initialisation)."""
    return (self.net.pixels(jnp.asarray(self.batches.dataset.fields(np.arange(1))["image"])),)

  def init(self, seed: int) -> TrainState:
    tx = self.net.tx
    state = create_train_state(self.model, tx, self.example_inputs(), seed, frozen=self.frozen)
    if self.net.pretrained is None:
      return state
    loaded = transfer_variables(state.variables, self.net.pretrained)
    return state.replace(**loaded, opt_state=jax.jit(tx.init)(loaded["params"]))

  def apply(self, params, state: TrainState, images: jax.Array | tuple, keys: StepKeys):
    """``(outputs, batch_stats, aux)`` of the network in training mode on ``images`` (or a tuple of
    the network's inputs); ``aux``: what else the model returns (see ``jaxtricks.models``)."""
    inputs = images if isinstance(images, tuple) else (images,)
    (out, aux), updates = self.model.apply(
        {"params": params, "batch_stats": state.batch_stats}, *inputs,
        train=not self.net.frozen_backbone, rngs=keys.rngs, mutable=["batch_stats"])
    return out, updates.get("batch_stats", {}), aux

  def prepare(self, state: TrainState, batch: Batch, keys: StepKeys) -> tuple[Batch, Metrics]:
    return {**batch, "image": self.net.augment(keys.augment, batch["image"])}, {}

  def loss(self, params, state: TrainState, batch: Batch, keys: StepKeys):
    raise NotImplementedError

  def train_step(self, state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
    keys = step_keys(state)
    batch, metrics = self.prepare(state, self._pixels(batch), keys)
    (loss, (stats, loss_metrics)), grads = jax.value_and_grad(self.loss, has_aux=True)(
        state.params, state, batch, keys)
    grads = lax.pmean(grads, AXIS)
    updates, opt_state = self.net.tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    stats = state.batch_stats if self.net.frozen_backbone else lax.pmean(stats, AXIS)
    metrics = lax.pmean({"loss": loss, **metrics, **loss_metrics}, AXIS)
    metrics["lr"] = self.net.schedule(state.step + 1)
    return state.replace(step=state.step + 1, params=params, batch_stats=stats,
                         opt_state=opt_state), metrics

  def infer(self, state: TrainState, images: jax.Array | tuple) -> jax.Array:
    """The network's outputs in inference mode (``images``: or a tuple of the network's inputs)."""
    inputs = images if isinstance(images, tuple) else (images,)
    return self.model.apply(state.variables, *inputs, train=False)[0]

  def eval_step(self, state: TrainState, batch: Batch) -> EvalOut:
    """Classification of the test split (outputs = class logits)."""
    logits = self.infer(state, batch["image"])
    return EvalOut(classification_sums(logits, batch["label"], batch["mask"], logits.shape[-1]), {})

  def finalize(self, sums: dict, rows: dict) -> dict[str, Any]:
    return classification_metrics(sums, rows)

  def eval_specs(self) -> list[EvalSpec]:
    """What is evaluated: by default ``eval_step`` and ``finalize`` on the test split."""
    return [EvalSpec(self.eval_step, self.finalize)]

  def evaluators(self, test: ArrayDataset | ImageDataset, *, batch_size: int, parallel: DataParallel):
    specs = [spec._replace(step=lambda state, batch, step=spec.step: step(state, self._pixels(batch)))
             for spec in self.eval_specs()]
    return build_evaluators(specs, test, batch_size=batch_size, parallel=parallel,
                            constants=self.constant_metrics)

  def _pixels(self, batch: Batch) -> Batch:
    return {**batch, "image": self.net.pixels(batch["image"])} if "image" in batch else batch


def train_batches(config: ml_collections.ConfigDict, train: ArrayDataset, **overrides) -> TrainBatches:
  """This host's share of the training stream of ``config`` (``overrides``: e.g. resampling)."""
  kwargs = dict(batch_size=config.train.batch_size, seed=config.seed, resample=config.dataset.resample,
                resample_from_epoch=config.dataset.resample_from_epoch, smote_k=config.dataset.smote_k)
  return TrainBatches(train, process_index=jax.process_index(), process_count=jax.process_count(),
                      **{**kwargs, **overrides})


def build_net(config: ml_collections.ConfigDict, runs: Runs, batches: Batches, *, output_size: int,
              wrap: Callable[[nn.Module], nn.Module] | None = None) -> Net:
  """The :class:`Net` that the shared config blocks define: the model (``config.dtype`` compute;
  ``wrap`` it, e.g. with reciprocal points), the LR schedule and optimizer with the ``transfer``
  options, augmentation, and the pretrained variables of ``transfer.init_from`` (or of
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
  images = getattr(getattr(batches, "dataset", None), "images", None)
  if images is not None and np.ndim(images) != 4:  # [N, D] feature rows: nothing to crop or flip.
    for key in IMAGE_AUGMENTATION:
      value = config.augment[key.partition(".")[2]]
      if value:
        raise ValueError(f"{key}={value!r} augments [N, H, W, C] images; this run's training inputs are "
                         f"rows of shape {tuple(np.shape(images)[1:])}: leave it at its default")
  return Net(model=model, tx=tx, schedule=schedule, batches=batches, augment=Augment.from_config(config),
             pixels=Pixels.from_config(config), frozen_backbone=t.freeze_backbone, pretrained=pretrained)


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
