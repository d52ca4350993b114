"""ResNets (He et al., CVPR 2016) in the CIFAR and ImageNet layouts, with the Bag-of-Tricks tweaks (He
et al., CVPR 2019).

``layout="cifar"``: depth ``6n+2`` (basic) or ``9n+2`` (bottleneck), a 3×3 stem, three stages of width
``w, 2w, 4w``. ``layout="imagenet"``: depth 18/34 (basic) or 50/101/152 (bottleneck), a 7×7/2 stem and
a 3×3/2 max pool, four stages of width ``w … 8w`` (``w`` = 64 for the paper's networks).

Variants follow GluonCV: ``v1`` (stride on the first conv of a block, projection shortcut),
``b`` (stride on the 3×3 conv of a bottleneck), ``c`` (= b + deep stem of three 3×3 convs),
``d`` (= c + shortcut ``avg-pool 2×2 → 1×1 conv``). With basic blocks ``b`` equals ``v1``.
``zero_gamma`` initialises the last BatchNorm γ of every residual branch to zero. ``stochastic_depth``
drops each residual branch per example during training (Huang et al., ECCV 2016) with a probability
growing linearly with the block index, ``rate·i/L`` (block ``i`` of ``L``, as Noisy Student's
EfficientNet codes it), the kept branches scaled by ``1/survival``; ``dropout_rate`` is dropout before
the classifier.
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxtricks.models.layers import (ExampleDropout, ModelOutput, activate, he_normal, negative_slope,
                                     output_head)
from jaxtricks.parallel import example_keys

VARIANTS = ("v1", "b", "c", "d")
BLOCKS = ("basic", "bottleneck")
LAYOUTS = ("cifar", "imagenet")
IMAGENET_STAGES = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)),
                   50: ("bottleneck", (3, 4, 6, 3)), 101: ("bottleneck", (3, 4, 23, 3)),
                   152: ("bottleneck", (3, 8, 36, 3))}


class _Block(nn.Module):
  filters: int
  strides: int
  bottleneck: bool
  variant: str
  zero_gamma: bool
  activation: str
  norm: Any
  dtype: Any
  drop_rate: float = 0.0
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x, *, train: bool = False):
    act = functools.partial(activate, self.activation)
    conv = functools.partial(nn.Conv, use_bias=False, dtype=self.dtype,
                             kernel_init=he_normal(negative_slope(self.activation)))
    last_scale = nn.initializers.zeros if self.zero_gamma else nn.initializers.ones
    s = (self.strides, self.strides)
    if self.bottleneck:
      out_filters = 4 * self.filters
      stride_first = self.variant == "v1"
      y = act(self.norm()(conv(self.filters, (1, 1), s if stride_first else (1, 1))(x)))
      y = act(self.norm()(conv(self.filters, (3, 3), (1, 1) if stride_first else s)(y)))
      y = self.norm(scale_init=last_scale)(conv(out_filters, (1, 1))(y))
    else:
      out_filters = self.filters
      y = act(self.norm()(conv(self.filters, (3, 3), s)(x)))
      y = self.norm(scale_init=last_scale)(conv(self.filters, (3, 3))(y))
    if self.strides != 1 or x.shape[-1] != out_filters:
      if self.variant == "d":
        if self.strides != 1:
          x = nn.avg_pool(x, s, s, padding="SAME", count_include_pad=False)
        x = self.norm()(conv(out_filters, (1, 1))(x))
      else:
        x = self.norm()(conv(out_filters, (1, 1), s)(x))
    if train and self.drop_rate > 0:
      keep = 1.0 - self.drop_rate
      keys = example_keys(self.make_rng("dropout"), y.shape[0], self.axis_name)
      survive = jax.vmap(lambda k: jax.random.bernoulli(k, keep))(keys)
      y = jnp.where(survive[:, None, None, None], y / keep, 0.0).astype(y.dtype)
    return act(x + y)


class ResNet(nn.Module):
  """A ResNet in the CIFAR or ImageNet ``layout`` (see the module; ``block`` is fixed by the depth
  in the ImageNet layout).

  Example::

    model = ResNet(depth=20, num_classes=10, variant="d", zero_gamma=True)
    variables = model.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)), train=False)
    logits, aux = model.apply(variables, jnp.zeros((1, 32, 32, 3)), train=False)  # aux["embedding"]
    resnet50 = ResNet(depth=50, num_classes=1000, width=64, layout="imagenet")
  """

  depth: int = 20
  num_classes: int = 10
  width: int = 16
  variant: str = "v1"
  block: str = "basic"
  zero_gamma: bool = False
  activation: str = "relu"
  bn_momentum: float = 0.9
  prior_bias: bool = False
  l2_normalize: bool = False  # Unit-length outputs: an embedding network (metric learning).
  stochastic_depth: float = 0.0  # Drop probability of the last residual branch.
  dropout_rate: float = 0.0  # Before the classifier.
  layout: str = "cifar"
  dtype: Any = jnp.float32
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> ModelOutput:
    """``(logits, {"embedding": pooled features})``."""
    if not 0.0 <= self.stochastic_depth < 1.0:
      raise ValueError(f"model.stochastic_depth must be in [0, 1), got {self.stochastic_depth}")
    if self.variant not in VARIANTS:
      raise ValueError(f"model.variant must be one of {VARIANTS}, got {self.variant!r}")
    block, stages = self._stages()
    norm = functools.partial(nn.BatchNorm, use_running_average=not train, momentum=self.bn_momentum,
                             epsilon=1e-5, dtype=self.dtype, axis_name=self.axis_name if train else None)
    act = functools.partial(activate, self.activation)
    conv = functools.partial(nn.Conv, use_bias=False, dtype=self.dtype,
                             kernel_init=he_normal(negative_slope(self.activation)))

    x = x.astype(self.dtype)
    s = 2 if self.layout == "imagenet" else 1
    if self.variant in ("c", "d"):
      x = act(norm()(conv(self.width // 2, (3, 3), (s, s))(x)))
      x = act(norm()(conv(self.width // 2, (3, 3))(x)))
      x = act(norm()(conv(self.width, (3, 3))(x)))
    else:
      x = act(norm()(conv(self.width, (7, 7) if s == 2 else (3, 3), (s, s))(x)))
    if self.layout == "imagenet":
      x = nn.max_pool(x, (3, 3), (2, 2), padding=((1, 1), (1, 1)))
    axis = self.axis_name if train else None
    total, index = sum(stages), 0
    for stage, n in enumerate(stages):
      for i in range(n):
        rate = self.stochastic_depth * index / total
        index += 1
        x = _Block(self.width * 2 ** stage, 2 if stage and i == 0 else 1, block == "bottleneck",
                   self.variant, self.zero_gamma, self.activation, norm, self.dtype, rate, axis)(
                       x, train=train)
    x = jnp.mean(x, axis=(1, 2))
    x = ExampleDropout(self.dropout_rate, axis_name=axis)(x, deterministic=not train)
    return output_head(x, self.num_classes, prior_bias=self.prior_bias, l2_normalize=self.l2_normalize,
                       dtype=self.dtype), {"embedding": x}

  def _stages(self) -> tuple[str, tuple[int, ...]]:
    """(block kind, blocks per stage) of this depth and layout."""
    if self.layout not in LAYOUTS:
      raise ValueError(f"model.layout must be one of {LAYOUTS}, got {self.layout!r}")
    if self.layout == "imagenet":
      if self.depth not in IMAGENET_STAGES:
        raise ValueError(f"model.depth of an ImageNet ResNet must be one of "
                         f"{sorted(IMAGENET_STAGES)}, got {self.depth}")
      return IMAGENET_STAGES[self.depth]
    if self.block not in BLOCKS:
      raise ValueError(f"model.block must be one of {BLOCKS}, got {self.block!r}")
    per_block = 2 if self.block == "basic" else 3
    if self.depth < 3 * per_block + 2 or (self.depth - 2) % (3 * per_block):
      raise ValueError(f"model.depth for {self.block} blocks must be {3 * per_block}n+2 "
                       f"(e.g. {', '.join(str(3 * per_block * n + 2) for n in (1, 3, 5, 9))}), "
                       f"got {self.depth}")
    return self.block, ((self.depth - 2) // (3 * per_block),) * 3
