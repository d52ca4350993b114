"""GoogLeNet / Inception v1 with its two auxiliary classifiers (Szegedy et al., CVPR 2015), laid out as
torchvision's ``googlenet``: BatchNorm (ε = 1e-3) after every conv, the "5×5" branch with a 3×3 kernel
as torchvision codes it, auxiliary heads on ``inception4a`` and ``inception4d`` (adaptive 4×4 average
pool → 1×1 conv 128 → FC 1024 → ReLU → dropout 0.7 → FC), dropout 0.2 before the main classifier,
weights ``trunc_normal(0.01, ±2σ)``.

``stem="imagenet"`` is torchvision's 7×7/2 stem with two max-pools (224² → 28² at ``inception3a``;
parameter counts equal torchvision's at ``width=1``); ``stem="cifar"`` is one 3×3 conv at full
resolution for 32×32 (or 8×8) inputs. ``width`` scales every channel count.

The model returns ``(logits, aux)``: ``aux["embedding"]`` (the pooled features) and, in training
(``train=True``), ``aux["aux_logits"] = (aux1, aux2)`` (torchvision returns them as
``(logits, aux2, aux1)``); the classification task adds ``loss.aux_weight × (CE(aux1) + CE(aux2))``.
At inference the auxiliary heads are not computed.
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxtricks.models.layers import HEAD, ExampleDropout, ModelOutput

STEMS = ("imagenet", "cifar")
# name: (1×1, 3×3 reduce, 3×3, "5×5" reduce, "5×5", pool projection), torchvision's table.
INCEPTION = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128), "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128)}
WEIGHT_INIT = nn.initializers.truncated_normal(0.01)  # ±2σ, as torch.nn.init.trunc_normal_(a=-2, b=2)·σ


def adaptive_avg_pool(x: jax.Array, size: int) -> jax.Array:
  """``[N, H, W, C]`` → ``[N, size, size, C]``: cell ``i`` averages rows ``floor(i·H/size)`` to
  ``ceil((i+1)·H/size) − 1`` (``adaptive_avg_pool2d``; repeats rows when ``H < size``)."""
  h, w = x.shape[1:3]

  def windows(n):
    return [(i * n // size, -(-(i + 1) * n // size)) for i in range(size)]

  rows = [jnp.stack([x[:, r0:r1, c0:c1].mean(axis=(1, 2)) for c0, c1 in windows(w)], axis=1)
          for r0, r1 in windows(h)]
  return jnp.stack(rows, axis=1)


def max_pool_ceil(x: jax.Array, window: int, stride: int) -> jax.Array:
  """Max-pool without padding, the last partial window kept (torch ``ceil_mode=True``)."""
  pads = []
  for n in x.shape[1:3]:
    out = -(-(n - window) // stride) + 1
    pads.append((0, max(0, (out - 1) * stride + window - n)))
  return nn.max_pool(x, (window, window), (stride, stride), padding=pads)


class BasicConv(nn.Module):
  """conv (no bias) → BatchNorm(ε = 1e-3) → ReLU."""
  features: int
  kernel: int
  strides: int = 1
  norm: Any = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    pad = self.kernel // 2
    x = nn.Conv(self.features, (self.kernel, self.kernel), (self.strides, self.strides),
                padding=[(pad, pad)] * 2, use_bias=False, kernel_init=WEIGHT_INIT, dtype=self.dtype)(x)
    return nn.relu(self.norm()(x))


class Inception(nn.Module):
  channels: tuple[int, ...]
  norm: Any
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    c1, c3r, c3, c5r, c5, proj = self.channels
    conv = functools.partial(BasicConv, norm=self.norm, dtype=self.dtype)
    b1 = conv(c1, 1)(x)
    b2 = conv(c3, 3)(conv(c3r, 1)(x))
    b3 = conv(c5, 3)(conv(c5r, 1)(x))  # torchvision's kernel 3 (its documented deviation).
    b4 = conv(proj, 1)(nn.max_pool(x, (3, 3), (1, 1), padding=[(1, 1), (1, 1)]))
    return jnp.concatenate([b1, b2, b3, b4], axis=-1)


class AuxiliaryHead(nn.Module):
  """Adaptive 4×4 average pool → 1×1 conv (128) → FC (1024) → ReLU → dropout 0.7 → FC."""
  num_classes: int
  width: float
  norm: Any
  dropout_rate: float = 0.7
  dtype: Any = jnp.float32
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x, *, train: bool):
    x = BasicConv(_scale(128, self.width), 1, norm=self.norm, dtype=self.dtype)(adaptive_avg_pool(x, 4))
    x = x.reshape(x.shape[0], -1)
    x = nn.relu(nn.Dense(_scale(1024, self.width), kernel_init=WEIGHT_INIT, dtype=self.dtype)(x))
    x = ExampleDropout(self.dropout_rate, axis_name=self.axis_name)(x, deterministic=not train)
    return nn.Dense(self.num_classes, kernel_init=WEIGHT_INIT, dtype=self.dtype, name=HEAD)(x)


def _scale(channels: int, width: float) -> int:
  return max(1, int(round(channels * width)))


class GoogLeNet(nn.Module):
  """Inception v1 (torchvision layout) with auxiliary classifiers in training; see the module doc.

  Example::

    net = GoogLeNet(num_classes=10, stem="cifar", width=0.25)
    variables = net.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)), train=False)
  """

  num_classes: int = 1000
  width: float = 1.0
  stem: str = "cifar"
  aux_logits: bool = True
  dropout_rate: float = 0.2
  aux_dropout_rate: float = 0.7
  bn_momentum: float = 0.9
  dtype: Any = jnp.float32
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> ModelOutput:
    if self.stem not in STEMS:
      raise ValueError(f"model.stem must be one of {STEMS}, got {self.stem!r}")
    axis = self.axis_name if train else None
    norm = functools.partial(nn.BatchNorm, use_running_average=not train, momentum=self.bn_momentum,
                             epsilon=1e-3, dtype=self.dtype, axis_name=axis)
    conv = functools.partial(BasicConv, norm=norm, dtype=self.dtype)
    block = lambda name: Inception(tuple(_scale(c, self.width) for c in INCEPTION[name]), norm,  # noqa: E731
                                   self.dtype, name=f"inception{name}")
    x = x.astype(self.dtype)
    if self.stem == "imagenet":
      x = max_pool_ceil(conv(_scale(64, self.width), 7, 2)(x), 3, 2)
      x = conv(_scale(64, self.width), 1)(x)
      x = max_pool_ceil(conv(_scale(192, self.width), 3)(x), 3, 2)
    else:
      x = conv(_scale(192, self.width), 3)(x)
    x = max_pool_ceil(block("3b")(block("3a")(x)), 3, 2)
    x = block("4a")(x)
    aux = functools.partial(AuxiliaryHead, self.num_classes, self.width, norm, self.aux_dropout_rate,
                            self.dtype, axis)
    heads = self.aux_logits and (train or self.is_initializing())  # Parameters exist from init on.
    aux_logits = []
    if heads:
      aux_logits.append(aux(name="aux_head1")(x, train=train))
    x = block("4d")(block("4c")(block("4b")(x)))
    if heads:
      aux_logits.append(aux(name="aux_head2")(x, train=train))
    x = max_pool_ceil(block("4e")(x), 2, 2)
    x = block("5b")(block("5a")(x))
    embedding = jnp.mean(x, axis=(1, 2))
    x = ExampleDropout(self.dropout_rate, axis_name=axis)(embedding, deterministic=not train)
    logits = nn.Dense(self.num_classes, kernel_init=WEIGHT_INIT, dtype=self.dtype, name=HEAD)(x)
    return logits, {"embedding": embedding, **({"aux_logits": tuple(aux_logits)} if train and heads else {})}

