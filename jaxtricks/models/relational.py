"""Relation Network and its CNN+MLP baseline for visual question answering on Sort-of-CLEVR (Santoro et
al., NeurIPS 2017), as kimhc6028/relational-networks builds them.

CNN (both): 4 × [conv 3×3, stride 2, 24 channels → ReLU → BatchNorm] (75 → 38 → 19 → 10 → 5), so
25 objects of 24 features. RN: each object gets its cell's coordinates
(:func:`jaxtricks.data.sort_of_clevr.cell_coordinates`); every ordered pair ``(o_i, o_j)`` of the 625
goes through ``g`` (4 × dense ``g_units`` + ReLU) with the question, ``g``'s outputs are **summed**
over pairs, then ``f``: dense 256 + ReLU, dense 256 + ReLU, dropout 0.5, dense to the answers.
``g``'s first layer is applied to each object and to the question once and added per pair
(``W·[o_j, o_i, q] = W_j·o_j + W_i·o_i + W_q·q``, the same function as on concatenated pairs at a
25th of the cost). CNN+MLP: the 600 flattened features and the question → dense 256 + ReLU, then the
same output block. One image carries ``Q`` questions: the CNN runs once per image. Kernels start
from PyTorch's default, U(±1/√fan_in).

The reference's ``F.dropout`` is active at test time too; here dropout follows ``train`` (set
``test_dropout`` for the reference's behaviour).
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxtricks.data.sort_of_clevr import cell_coordinates
from jaxtricks.models.layers import ExampleDropout, ModelOutput

KINDS = ("rn", "cnn_mlp")
# PyTorch's default for Linear and Conv2d (the reference's): U(±1/√fan_in). Flax's LeCun normal is √3
# larger per layer, and g's outputs are summed over 625 pairs: the first logits come out in the
# hundreds and training stalls at what the question alone tells.
torch_init = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")


class SceneObjects(nn.Module):
  """``[B, 75, 75, C] → [B, 25, 24]``: the CNN's 5×5 cells as objects (row-major)."""

  channels: int = 24
  dtype: Any = jnp.float32
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    x = x.astype(self.dtype)
    for _ in range(4):
      x = nn.Conv(self.channels, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)),
                  kernel_init=torch_init, dtype=self.dtype)(x)
      x = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, dtype=self.dtype,
                       axis_name=self.axis_name if train else None)(nn.relu(x))
    return x.reshape(x.shape[0], -1, x.shape[-1])


class RelationalQA(nn.Module):
  """``(images [B, H, W, C], questions [B, Q, q]) → (answer logits [B, Q, num_classes], {})``."""

  num_classes: int = 10
  kind: str = "rn"
  g_units: int = 256
  coordinates: str = "cell"  # cell | py3 (see cell_coordinates).
  dropout_rate: float = 0.5
  test_dropout: bool = False
  dtype: Any = jnp.float32
  axis_name: str | None = None

  @nn.compact
  def __call__(self, images: jax.Array, questions: jax.Array, *, train: bool) -> ModelOutput:
    dense = functools.partial(nn.Dense, kernel_init=torch_init, dtype=self.dtype)
    objects = SceneObjects(dtype=self.dtype, axis_name=self.axis_name)(images, train=train)
    questions = questions.astype(self.dtype)
    b, n = objects.shape[:2]
    if self.kind == "rn":
      coords = jnp.broadcast_to(jnp.asarray(cell_coordinates(self.coordinates), self.dtype), (b, n, 2))
      objects = jnp.concatenate([objects, coords], axis=-1)
      first = dense(self.g_units, use_bias=False, name="g_object_j")(objects)[:, None, None, :, :]
      second = dense(self.g_units, use_bias=False, name="g_object_i")(objects)[:, None, :, None, :]
      asked = dense(self.g_units, name="g_question")(questions)[:, :, None, None, :]
      h = nn.relu(first + second + asked)  # [B, Q, i, j, units]: pair (o_j, o_i) with the question.
      for _ in range(3):
        h = nn.relu(dense(self.g_units)(h))
      h = nn.relu(dense(256, name="f")(jnp.sum(h, axis=(2, 3))))
    elif self.kind == "cnn_mlp":
      flat = jnp.broadcast_to(objects.reshape(b, 1, -1), (b, questions.shape[1], n * objects.shape[-1]))
      h = nn.relu(dense(256)(jnp.concatenate([flat, questions], axis=-1)))
    else:
      raise ValueError(f"model.kind must be one of {KINDS}, got {self.kind!r}")
    h = nn.relu(dense(256)(h))
    h = ExampleDropout(self.dropout_rate, axis_name=self.axis_name if train else None)(
        h, deterministic=not (train or self.test_dropout))
    return dense(self.num_classes)(h).astype(jnp.float32), {}
