"""Layers and initialisers: channel-wise PReLU with its He/Kaiming init (He et al., ICCV 2015), per-example
dropout, the classifier head."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxtricks.parallel import example_keys

PRELU_INIT = 0.25
ACTIVATIONS = ("relu", "prelu")


def he_normal(negative_slope: float = 0.0) -> jax.nn.initializers.Initializer:
  """``N(0, 2 / ((1 + a²)·fan_in))``: keeps activation variance constant through ReLU (a=0) or PReLU(a).

  He et al., "Delving Deep into Rectifiers", ICCV 2015, eq. (10). Example::

    nn.Conv(64, (3, 3), kernel_init=he_normal(0.25))
  """
  return jax.nn.initializers.variance_scaling(2.0 / (1.0 + negative_slope ** 2), "fan_in", "normal")


class ChannelPReLU(nn.Module):
  """``f(x_c) = max(0, x_c) + a_c·min(0, x_c)`` with one learnable slope per channel, ``a_c = 0.25`` at init.

  He et al., ICCV 2015 (channel-wise form; ``flax.linen.PReLU`` shares one slope over all channels).
  """

  negative_slope_init: float = PRELU_INIT
  param_dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    slope = self.param("negative_slope", nn.initializers.constant(self.negative_slope_init),
                       (x.shape[-1],), self.param_dtype)
    return jnp.where(x >= 0, x, slope.astype(x.dtype) * x)


def negative_slope(activation: str) -> float:
  """The negative slope that :func:`he_normal` should assume for ``activation`` (0 for ReLU)."""
  if activation not in ACTIVATIONS:
    raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
  return PRELU_INIT if activation == "prelu" else 0.0


def activate(activation: str, x: jax.Array) -> jax.Array:
  """ReLU, or a fresh :class:`ChannelPReLU` (call inside a parent's ``nn.compact`` method)."""
  return ChannelPReLU()(x) if negative_slope(activation) else nn.relu(x)


def prior_bias_init(num_classes: int) -> jax.nn.initializers.Initializer:
  """Bias initialiser ``−log(C − 1)`` for sigmoid / focal heads: every class starts at ``p = 1/C``
  (Lin et al., ICCV 2017; official CB code, ``model_base.py``)."""
  if num_classes < 2:
    raise ValueError(f"num_classes must be >= 2, got {num_classes}")
  return jax.nn.initializers.constant(-np.log(num_classes - 1.0))


class ExampleDropout(nn.Module):
  """Dropout (Srivastava et al., JMLR 2014) whose mask for each example is drawn from
  ``fold_in(make_rng("dropout"), global position)``: the same masks however the batch is split over
  devices (``axis_name``: the parallel step's axis; None outside one)."""

  rate: float
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jax.Array, *, deterministic: bool) -> jax.Array:
    if deterministic or self.rate == 0.0:
      return x
    keep = 1.0 - self.rate
    keys = example_keys(self.make_rng("dropout"), x.shape[0], self.axis_name)
    mask = jax.vmap(lambda k: jax.random.bernoulli(k, keep, x.shape[1:]))(keys)
    return jnp.where(mask, x / keep, 0.0).astype(x.dtype)


ModelOutput = tuple[jax.Array, dict[str, Any]]
"""What every model returns: ``(outputs, aux)``, ``aux`` naming what else it computed (``embedding``,
``aux_logits``, ``local_mi``, ...). A family reads ``aux`` with :func:`aux_output`."""


def aux_output(aux: dict[str, Any], name: str, *, needed_by: str) -> Any:
  """``aux[name]``, or a ``ValueError`` saying that ``needed_by`` needs an output the model does not
  return."""
  if name not in aux:
    raise ValueError(f"{needed_by} needs the model output {name!r}, but the model returns only "
                     f"{sorted(aux) or 'its main output'}: choose a model that computes it")
  return aux[name]


HEAD = "head"  # Name of every model's output layer (transfer learning replaces it).


def output_head(features: jax.Array, num_classes: int, *, prior_bias: bool, l2_normalize: bool,
                dtype) -> jax.Array:
  """The output layer ``HEAD`` on the pooled ``features`` (call inside a parent's ``nn.compact``).

  ``prior_bias`` starts every sigmoid output at ``p = 1/C`` (bias ``−log(C−1)``); ``l2_normalize``
  makes the output a unit-length embedding ``z / max(|z|, 1e-6)`` (metric learning).
  """
  bias_init = prior_bias_init(num_classes) if prior_bias else nn.initializers.zeros
  out = nn.Dense(num_classes, dtype=dtype, bias_init=bias_init, name=HEAD)(features)
  out = out.astype(jnp.float32)
  if l2_normalize:
    out = out / jnp.sqrt(jnp.maximum(jnp.sum(out * out, axis=-1, keepdims=True), 1e-12))
  return out
