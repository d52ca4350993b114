"""InfoGAN (Chen et al., NeurIPS 2016): two networks, two optimizers, one step that updates the
discriminator (with its Q head) and then the generator, as openai/InfoGAN's trainer does.

Latent per example: ``noise_dim`` U(−1, 1) noise, a one-hot ``Categorical(categories)`` code and
``continuous`` U(−1, 1) codes, each example's draws keyed by its global position. The D step draws a
latent, generates (generator frozen) and descends ``L_D`` (``jaxtricks.losses.infogan``) on a real and
a fake batch (BatchNorm sees them separately, as the reference's two ``discriminate`` calls do); the
G step draws a fresh latent and descends ``L_G`` through the updated discriminator. Adam with β1 = 0.5,
LR ``d_lr`` / ``g_lr`` (2e-4 / 1e-3, the reference's). ``info_weight`` = λ; 0 gives the plain GAN.

Evaluated by the categorical code's accuracy under the best one-to-one map of codes to digits
(``eval/code_accuracy_real``: Q's code for the real test digits; ``eval/code_accuracy_generated``:
samples of each code classified by a digits classifier trained once, ``infogan.classifier``), each
next to its chance level (``..._chance``: the codes shuffled across the examples).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from jax import lax

from jaxtricks.data import ArrayDataset, TrainBatches
from jaxtricks.losses.infogan import discriminator_loss, generator_loss, mutual_information
from jaxtricks.metrics import best_map_accuracy
from jaxtricks.models.gan import Discriminator, Generator
from jaxtricks.parallel import AXIS, DataParallel, example_keys
from jaxtricks.tasks.base import (CLASSIFICATION_TARGETS, DTYPES, IMAGE_AUGMENTATION, Batch, Data, Metrics,
                                  reject_options, step_keys, train_batches)
from jaxtricks.tasks.evaluation import EvalOut, EvalSpec, build_evaluators

PLAYERS = ("generator", "discriminator")
GENERATIONS = None
STREAMED_IMAGES = False


def config_blocks() -> dict[str, ml_collections.ConfigDict]:
  c = ml_collections.ConfigDict()
  c.width = 1.0  # × the reference's channel widths (its own G and D networks; model.* is not used).
  c.noise_dim = 62  # Unregularised U(−1, 1) noise.
  c.categories = 10  # Categorical code (one-hot).
  c.continuous = 2  # U(−1, 1) codes, scored as Gaussians.
  c.info_weight = 1.0  # λ of the mutual-information term; 0: a plain GAN.
  c.fix_std = True  # Q's continuous codes with unit std (the reference's MNIST setting).
  c.d_lr = 2e-4  # Adam (β1 = 0.5) of the discriminator and Q head,
  c.g_lr = 1e-3  # and of the generator.
  c.b1 = 0.5
  c.classifier = ml_collections.ConfigDict()  # Digits classifier for eval/code_accuracy_generated:
  c.classifier_workdir = ""  # its config (trained first), or its run directory (WORKDIR/classifier).
  c.eval_samples = 1000  # Generated samples per evaluation (equal per category).
  return {"infogan": c}


@flax.struct.dataclass
class GanState:
  step: jax.Array
  params: dict  # {"generator": ..., "discriminator": ...}
  batch_stats: dict
  opt_state: dict
  rng: jax.Array
  frozen: dict = dataclasses.field(default_factory=dict)  # {"classifier": variables} for evaluation.


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class InfoGan:
  generator: nn.Module
  discriminator: nn.Module
  txs: dict  # Player -> optax transformation.
  batches: TrainBatches
  noise_dim: int
  categories: int
  continuous: int
  info_weight: float
  fix_std: bool
  classifier: nn.Module | None = None
  frozen: dict = dataclasses.field(default_factory=dict)
  eval_samples: int = 1000

  @property
  def latent_dim(self) -> int:
    return self.noise_dim + self.categories + self.continuous

  def init(self, seed: int) -> GanState:
    g_key, d_key, rng = jax.random.split(jax.random.key(seed), 3)
    z = jnp.zeros((2, self.latent_dim))
    g_vars = jax.jit(lambda k: self.generator.init(k, z, train=False))(g_key)
    images = jnp.asarray(self.batches.dataset.images[:2])
    d_vars = jax.jit(lambda k: self.discriminator.init(k, images, train=False))(d_key)
    params = {"generator": g_vars["params"], "discriminator": d_vars["params"]}
    return GanState(step=jnp.zeros((), jnp.int32), params=params,
                    batch_stats={"generator": g_vars["batch_stats"],
                                 "discriminator": d_vars["batch_stats"]},
                    opt_state={p: jax.jit(self.txs[p].init)(params[p]) for p in PLAYERS},
                    rng=jax.random.key_data(rng), frozen=self.frozen)

  def sample_latent(self, key: jax.Array, n: int, axis_name: str | None = AXIS):
    """``(z [n, latent_dim], category [n], continuous codes [n, M])``, example ``i`` keyed by its
    global position."""

    def one(key):
      k_noise, k_cat, k_cont = jax.random.split(key, 3)
      return (jax.random.uniform(k_noise, (self.noise_dim,), minval=-1.0, maxval=1.0),
              jax.random.randint(k_cat, (), 0, self.categories),
              jax.random.uniform(k_cont, (self.continuous,), minval=-1.0, maxval=1.0))

    noise, category, cont = jax.vmap(one)(example_keys(key, n, axis_name))
    return self.latent(noise, category, cont), category, cont

  def latent(self, noise: jax.Array, category: jax.Array, cont: jax.Array) -> jax.Array:
    """The generator's input ``[n, latent_dim]``: noise, the one-hot category, continuous codes."""
    return jnp.concatenate([noise, jax.nn.one_hot(category, self.categories), cont], axis=-1)

  def _discriminate(self, params, stats, images):
    (d, q), updates = self.discriminator.apply({"params": params, "batch_stats": stats}, images,
                                               train=True, mutable=["batch_stats"])
    return d, q, updates["batch_stats"]

  def _mi(self, q, category, cont):
    return mutual_information(q, jax.nn.one_hot(category, self.categories), cont,
                              fix_std=self.fix_std)

  def train_step(self, state: GanState, batch: Batch) -> tuple[GanState, Metrics]:
    keys = step_keys(state)
    n = batch["image"].shape[0]
    g_vars = {"params": state.params["generator"], "batch_stats": state.batch_stats["generator"]}

    z, category, cont = self.sample_latent(keys.latent, n)
    fake, _ = self.generator.apply(g_vars, z, train=True, mutable=["batch_stats"])
    fake = lax.stop_gradient(fake)

    def d_objective(params):
      real_d, _, stats = self._discriminate(params, state.batch_stats["discriminator"], batch["image"])
      fake_d, q, stats = self._discriminate(params, stats, fake)
      mi = self._mi(q, category, cont)
      loss = discriminator_loss(real_d, fake_d, mi["mi_est"], self.info_weight)
      return loss, (stats, {"d_loss": loss, "real_d": jnp.mean(real_d), "fake_d": jnp.mean(fake_d),
                            "mi": mi["mi_est"], "categorical_mi": mi["disc_mi_est"]})

    (_, (d_stats, metrics)), grads = jax.value_and_grad(d_objective, has_aux=True)(
        state.params["discriminator"])
    d_params, d_opt = self._update("discriminator", state, grads)

    z, category, cont = self.sample_latent(keys.latent_generator, n)

    def g_objective(params):
      fake, updates = self.generator.apply({**g_vars, "params": params}, z, train=True,
                                           mutable=["batch_stats"])
      fake_d, q, _ = self._discriminate(d_params, d_stats, fake)  # Batch statistics: train mode.
      mi = self._mi(q, category, cont)
      return generator_loss(fake_d, mi["mi_est"], self.info_weight), updates["batch_stats"]

    (g_loss, g_stats), grads = jax.value_and_grad(g_objective, has_aux=True)(state.params["generator"])
    g_params, g_opt = self._update("generator", state, grads)
    metrics = lax.pmean({**metrics, "g_loss": g_loss}, AXIS)
    metrics["loss"] = metrics["d_loss"] + metrics["g_loss"]
    stats = lax.pmean({"generator": g_stats, "discriminator": d_stats}, AXIS)
    return state.replace(step=state.step + 1, params={"generator": g_params, "discriminator": d_params},
                         batch_stats=stats,
                         opt_state={"generator": g_opt, "discriminator": d_opt}), metrics

  def _update(self, player: str, state: GanState, grads) -> tuple[Any, Any]:
    grads = lax.pmean(grads, AXIS)
    updates, opt_state = self.txs[player].update(grads, state.opt_state[player], state.params[player])
    return optax.apply_updates(state.params[player], updates), opt_state

  def generate(self, state: GanState, z: jax.Array) -> jax.Array:
    """Images of the latents ``z`` (generator in inference mode)."""
    return self.generator.apply({"params": state.params["generator"],
                                 "batch_stats": state.batch_stats["generator"]}, z, train=False)

  def infer(self, state: GanState, images: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(D(x), Q(x))`` in inference mode."""
    return self.discriminator.apply({"params": state.params["discriminator"],
                                     "batch_stats": state.batch_stats["discriminator"]}, images,
                                    train=False)

  def real_step(self, state: GanState, batch: Batch) -> EvalOut:
    _, q = self.infer(state, batch["image"])
    return EvalOut({}, {"code": jnp.argmax(q[:, :self.categories], -1), "label": batch["label"]})

  def generated_step(self, state: GanState, batch: Batch) -> EvalOut:
    z = self.latent(batch["image"][:, :self.noise_dim], batch["label"],
                    batch["image"][:, self.noise_dim:])
    logits, _ = self.classifier.apply(state.frozen["classifier"], self.generate(state, z), train=False)
    return EvalOut({}, {"code": batch["label"], "label": jnp.argmax(logits, -1)})

  def latent_probe(self) -> ArrayDataset:
    """Fixed noise and continuous codes (``images``) with categories ``0..K−1`` in turn (``labels``)."""
    rng = np.random.default_rng(0)
    n = self.eval_samples - self.eval_samples % self.categories
    noise = rng.uniform(-1, 1, (n, self.noise_dim + self.continuous)).astype(np.float32)
    return ArrayDataset(noise, (np.arange(n) % self.categories).astype(np.int32), self.categories)

  def _finalize(self, name: str, num_classes: int, permutations: int = 20):
    """The code accuracy under the best code → class map, and its chance level: the same map's
    accuracy with the codes shuffled across the examples (mean of ``permutations`` shuffles), which
    a code that carries no class information scores at this sample size."""
    def finalize(sums, rows):
      codes, labels = np.asarray(rows["code"]), np.asarray(rows["label"])
      shuffles = np.random.default_rng(0)
      chance = np.mean([best_map_accuracy(shuffles.permutation(codes), labels, self.categories, num_classes)
                        for _ in range(permutations)])
      return {f"eval/code_accuracy_{name}": best_map_accuracy(codes, labels, self.categories, num_classes),
              f"eval/code_accuracy_{name}_chance": float(chance)}
    return finalize

  def evaluators(self, test: ArrayDataset, *, batch_size: int, parallel: DataParallel):
    specs = [EvalSpec(self.real_step, self._finalize("real", test.num_classes))]
    if self.classifier is not None:
      specs.append(EvalSpec(self.generated_step, self._finalize("generated", test.num_classes),
                            self.latent_probe()))
    return build_evaluators(specs, test, batch_size=batch_size, parallel=parallel)


def output_size(config: ml_collections.ConfigDict, num_classes: int) -> int:
  c = config.infogan
  return c.categories + 2 * c.continuous  # Q's outputs.


def prediction(config: ml_collections.ConfigDict, num_classes: int):
  raise ValueError("an InfoGAN run generates images rather than predicting per example: "
                   "jaxtricks.experiments.infogan.save_code_grid(config, state, path) draws its codes")


def from_config(config: ml_collections.ConfigDict, data: Data, runs) -> InfoGan:
  c = config.infogan
  for key in ("noise_dim", "categories", "continuous", "eval_samples"):
    if c[key] < (1 if key != "continuous" else 0):
      raise ValueError(f"infogan.{key} must be >= {1 if key != 'continuous' else 0}, got {c[key]}")
  if c.info_weight < 0:
    raise ValueError(f"infogan.info_weight must be >= 0, got {c.info_weight}")
  if c.width <= 0:
    raise ValueError(f"infogan.width must be > 0, got {c.width}")
  images = data.train.images
  if images.ndim != 4 or images.shape[1] != images.shape[2] or images.shape[1] % 4:
    raise ValueError(f"task='infogan' needs square images with a side divisible by 4, got "
                     f"{images.shape[1:]}")
  if config.dataset.standardize or images.min() < 0 or images.max() > 1:
    raise ValueError("task='infogan' generates pixels in [0, 1]: set dataset.standardize=False")
  reject_options(config, "infogan", CLASSIFICATION_TARGETS + IMAGE_AUGMENTATION)
  dtype = DTYPES[config.dtype]
  kwargs = dict(width=c.width, dtype=dtype, axis_name=AXIS)
  adam = lambda lr: optax.adam(lr, b1=c.b1)
  classifier, frozen = None, {}
  if c.classifier or c.classifier_workdir:
    run = runs.load("classifier", c.classifier or None, c.classifier_workdir, same_data=False)
    classifier, frozen = run.model(data.train.num_classes, dtype), {"classifier": run.variables}
  return InfoGan(generator=Generator(size=images.shape[1], channels=images.shape[3], **kwargs),
                 discriminator=Discriminator(code_outputs=output_size(config, 0), **kwargs),
                 txs={"generator": adam(c.g_lr), "discriminator": adam(c.d_lr)},
                 batches=train_batches(config, data.train), noise_dim=c.noise_dim,
                 categories=c.categories, continuous=c.continuous, info_weight=c.info_weight,
                 fix_std=c.fix_std, classifier=classifier, frozen=frozen,
                 eval_samples=c.eval_samples)
