"""Multi-task networks of MMoE (Ma et al., KDD 2018): Shared-Bottom, OMoE and MMoE, each with one
tower per task.

Experts (one dense ReLU layer of ``units`` each, as in keras-mmoe's ``MMoE`` layer) are one batched
computation ``relu(x·W[d, units, E] + b[units, E])``; a gate is ``softmax(x·G_k + g_k)`` over the E
experts and task k's input is ``Σ_e gate_k[e]·expert_e``. MMoE has one gate per task, OMoE one shared
gate, Shared-Bottom one dense ReLU bottom instead of experts and gates, sized by
:func:`shared_bottom_units` to the parameter count of OMoE. Kernels start from Keras' default
``VarianceScaling`` (scale 1, fan-in, truncated normal); every gate's kernel is drawn independently
(keras-mmoe under Keras ≥ 2.13 starts all gates equal).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxtricks.models.layers import ModelOutput

KINDS = ("mmoe", "omoe", "shared_bottom")
keras_init = nn.initializers.variance_scaling(1.0, "fan_in", "truncated_normal")


class MixtureOfExperts(nn.Module):
  """``[B, d] → ([B, num_gates, units], gates [B, num_gates, num_experts])``: the gated mixtures of
  ``num_experts`` dense ReLU experts, and the gates' softmax weights."""

  units: int
  num_experts: int
  num_gates: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    d = x.shape[-1]
    kernel = self.param("expert_kernel", keras_init, (d, self.units, self.num_experts))
    bias = self.param("expert_bias", nn.initializers.zeros, (self.units, self.num_experts))
    x = x.astype(self.dtype)
    experts = nn.relu(jnp.einsum("bd,due->bue", x, kernel.astype(self.dtype)) + bias)
    gate_logits = nn.DenseGeneral((self.num_gates, self.num_experts), kernel_init=keras_init,
                                  dtype=self.dtype, name="gate")(x)
    gates = nn.softmax(gate_logits.astype(jnp.float32), axis=-1).astype(self.dtype)
    return jnp.einsum("bge,bue->bgu", gates, experts), gates


class Towers(nn.Module):
  """One ``Dense(hidden, relu) → Dense(1)`` tower per task, batched: ``[B, T, u] → [B, T]``."""

  num_tasks: int
  hidden: int = 8
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    u, t = x.shape[-1], self.num_tasks
    init = nn.initializers.variance_scaling(1.0, "fan_in", "truncated_normal", in_axis=-2,
                                            out_axis=-1, batch_axis=(0,))
    k1 = self.param("hidden_kernel", init, (t, u, self.hidden))
    b1 = self.param("hidden_bias", nn.initializers.zeros, (t, self.hidden))
    k2 = self.param("output_kernel", init, (t, self.hidden, 1))
    b2 = self.param("output_bias", nn.initializers.zeros, (t, 1))
    h = nn.relu(jnp.einsum("btu,tuh->bth", x, k1.astype(self.dtype)) + b1)
    return (jnp.einsum("bth,tho->bto", h, k2.astype(self.dtype)) + b2)[..., 0]


def shared_bottom_units(dim: int, *, units: int, num_experts: int, num_tasks: int,
                        tower_hidden: int) -> int:
  """The bottom width ``h`` whose Shared-Bottom network has OMoE's parameter count (nearest integer):
  ``(d+1)·h + T·h·t = (d+1)·u·E + (d+1)·E + T·u·t`` (the towers' other weights are the same)."""
  omoe = (dim + 1) * units * num_experts + (dim + 1) * num_experts + num_tasks * units * tower_hidden
  return max(1, round(omoe / (dim + 1 + num_tasks * tower_hidden)))


class MultiTaskNet(nn.Module):
  """``[B, d] → ([B, num_classes], aux)``: one output per task (``num_classes`` = the number of tasks)
  from ``kind`` (``mmoe``, ``omoe`` or ``shared_bottom``) and per-task towers; ``aux["gates"]``
  ``[B, gates, experts]`` for the mixtures of experts."""

  num_classes: int = 2
  kind: str = "mmoe"
  num_experts: int = 8
  units: int = 16
  tower_hidden: int = 8
  dtype: Any = jnp.float32
  axis_name: str | None = None  # Unused: no BatchNorm.

  @property
  def num_tasks(self) -> int:
    return self.num_classes

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool = False) -> ModelOutput:
    del train  # No dropout or BatchNorm.
    x = x.reshape(x.shape[0], -1)
    aux = {}
    if self.kind == "shared_bottom":
      width = shared_bottom_units(x.shape[-1], units=self.units, num_experts=self.num_experts,
                                  num_tasks=self.num_tasks, tower_hidden=self.tower_hidden)
      bottom = nn.relu(nn.Dense(width, kernel_init=keras_init, dtype=self.dtype, name="bottom")(x))
      task_inputs = jnp.broadcast_to(bottom[:, None], (x.shape[0], self.num_tasks, width))
    elif self.kind in ("mmoe", "omoe"):
      gates = self.num_tasks if self.kind == "mmoe" else 1
      mixed, aux["gates"] = MixtureOfExperts(self.units, self.num_experts, gates, dtype=self.dtype,
                                             name="moe")(x)
      task_inputs = jnp.broadcast_to(mixed, (x.shape[0], self.num_tasks, self.units))
    else:
      raise ValueError(f"model.kind must be one of {KINDS}, got {self.kind!r}")
    outputs = Towers(self.num_tasks, self.tower_hidden, dtype=self.dtype, name="towers")(task_inputs)
    return outputs.astype(jnp.float32), aux
