"""Small networks for 8×8 inputs (scikit-learn digits): a 3-layer CNN and an MLP, both with dropout."""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxtricks.models.layers import (ExampleDropout, ModelOutput, activate, he_normal, negative_slope,
                                     output_head)


def conv_trunk(x: jax.Array, *, width: int, activation: str, bn_momentum: float, dtype,
               axis_name: str | None, train: bool,
               pool_dropout=None) -> tuple[jax.Array, jax.Array]:
  """conv(w)–conv(2w)–maxpool → the local map; [``pool_dropout``]–conv(4w)–global-avg-pool → the pooled
  features. BatchNorm after every conv. Call inside a parent's ``nn.compact`` method (the layers are
  its own)."""
  slope = negative_slope(activation)
  conv = functools.partial(nn.Conv, kernel_size=(3, 3), use_bias=False, dtype=dtype,
                           kernel_init=he_normal(slope))
  norm = functools.partial(nn.BatchNorm, use_running_average=not train, momentum=bn_momentum,
                           dtype=dtype, axis_name=axis_name if train else None)
  x = x.astype(dtype)
  x = activate(activation, norm()(conv(width)(x)))
  x = activate(activation, norm()(conv(2 * width)(x)))
  local = nn.max_pool(x, (2, 2), (2, 2))
  x = local if pool_dropout is None else pool_dropout(local)
  x = activate(activation, norm()(conv(4 * width)(x)))
  return local, jnp.mean(x, axis=(1, 2))


class SmallCNN(nn.Module):
  """conv(w)–conv(2w)–maxpool–[dropout]–conv(4w)–global-avg-pool–dropout–dense, BatchNorm after every
  conv. ``pool_dropout_rate`` adds dropout after the pooling layer as well, the placement of Gal et al.'s
  MC-dropout CNN ("Deep Bayesian Active Learning with Image Data", ICML 2017: 0.25 there, 0.5 before
  the head)."""

  num_classes: int = 10
  width: int = 32
  dropout_rate: float = 0.0
  pool_dropout_rate: float = 0.0
  activation: str = "relu"
  bn_momentum: float = 0.9
  prior_bias: bool = False
  l2_normalize: bool = False  # Unit-length outputs: an embedding network (metric learning).
  dtype: Any = jnp.float32
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool, dropout: bool | None = None) -> ModelOutput:
    """``(logits, {"embedding": pooled features})``; ``dropout`` (default: ``train``) turns dropout on
    alone, e.g. for MC-dropout in inference mode."""
    deterministic = not (train if dropout is None else dropout)
    pool_dropout = None
    if self.pool_dropout_rate:
      pool_dropout = functools.partial(
          ExampleDropout(self.pool_dropout_rate, axis_name=self.axis_name if train else None),
          deterministic=deterministic)
    _, x = conv_trunk(x, width=self.width, activation=self.activation, bn_momentum=self.bn_momentum,
                      dtype=self.dtype, axis_name=self.axis_name, train=train, pool_dropout=pool_dropout)
    x = ExampleDropout(self.dropout_rate, axis_name=self.axis_name if train else None)(
        x, deterministic=deterministic)
    return output_head(x, self.num_classes, prior_bias=self.prior_bias, l2_normalize=self.l2_normalize,
                       dtype=self.dtype), {"embedding": x}


class MLP(nn.Module):
  """Flatten, ``depth`` hidden dense layers of ``width`` units with activation and dropout, dense head."""

  num_classes: int = 10
  width: int = 256
  depth: int = 2
  dropout_rate: float = 0.0
  activation: str = "relu"
  prior_bias: bool = False
  l2_normalize: bool = False  # Unit-length outputs: an embedding network (metric learning).
  dtype: Any = jnp.float32
  axis_name: str | None = None  # Per-example dropout masks keyed by the global position.

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool, dropout: bool | None = None) -> ModelOutput:
    """``(logits, {"embedding": last hidden layer})``; ``dropout`` (default: ``train``) turns dropout
    on alone, e.g. for MC-dropout in inference mode."""
    slope = negative_slope(self.activation)
    x = x.reshape(x.shape[0], -1).astype(self.dtype)
    for _ in range(self.depth):
      x = activate(self.activation, nn.Dense(self.width, dtype=self.dtype, kernel_init=he_normal(slope))(x))
      x = ExampleDropout(self.dropout_rate, axis_name=self.axis_name if train else None)(
        x, deterministic=not (train if dropout is None else dropout))
    return output_head(x, self.num_classes, prior_bias=self.prior_bias, l2_normalize=self.l2_normalize,
                       dtype=self.dtype), {"embedding": x}
