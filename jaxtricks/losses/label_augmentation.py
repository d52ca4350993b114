"""Self-supervised label augmentation (SLA; Lee, Hwang, Shin, ICML 2020): transforms, joint labels,
aggregated inference and self-distillation, in the official code's layout.

Batch rows are sample-major — row ``b·M + t`` is sample ``b`` under transform ``t`` (``t = 0`` is the
identity) — and the joint label of class ``y`` under transform ``t`` is ``y·M + t``.
"""

from __future__ import annotations

import itertools

import chex
import jax
import jax.numpy as jnp
import optax

from jaxtricks.losses.distillation import kd_loss

COLOR_PERMUTATIONS = tuple(itertools.permutations(range(3)))  # (0,1,2), (0,2,1), ..., (2,1,0)
NUM_TRANSFORMS = {"rotation": 4, "color_perm": 6}


def label_augment(images: jax.Array, labels: jax.Array, transform: str) -> tuple[jax.Array, jax.Array]:
  """``[B, H, W, C]`` images → ``[B·M, H, W, C]`` transformed copies and ``[B·M]`` joint labels ``y·M + t``.

  ``rotation``: ``rot90`` by ``t·90°`` in the image plane (M = 4; the official ``torch.rot90(x, t,
  (2, 3))`` on NCHW); ``color_perm``: the 6 channel orders of ``COLOR_PERMUTATIONS`` (M = 6).
  """
  chex.assert_rank(images, 4, custom_message="images must be [B, H, W, C]")
  chex.assert_shape(labels, (images.shape[0],), custom_message="labels must be [B], one per image")
  if transform == "rotation":
    copies = [jnp.rot90(images, k, axes=(1, 2)) for k in range(4)]
  elif transform == "color_perm":
    copies = [images[..., list(order)] for order in COLOR_PERMUTATIONS]
  else:
    raise ValueError(f"transform must be one of {sorted(NUM_TRANSFORMS)}, got {transform!r}")
  m = len(copies)
  stacked = jnp.stack(copies, axis=1).reshape((-1,) + images.shape[1:])
  joint = (labels[:, None] * m + jnp.arange(m)[None, :]).reshape(-1)
  return stacked, joint


def sla_loss(joint_logits: jax.Array, joint_labels: jax.Array) -> jax.Array:
  """Per-row cross-entropy over the ``N·M`` joint classes (the official loss is its mean; times ``M``
  with ``--with-large-loss``)."""
  chex.assert_shape(joint_labels, (joint_logits.shape[0],),
                    custom_message="joint_labels must be [B·M], one per joint_logits row")
  return optax.softmax_cross_entropy_with_integer_labels(joint_logits, joint_labels)


def single_logits(joint_logits: jax.Array, num_transforms: int) -> jax.Array:
  """SLA+SI: ``[B, N]`` logits of the untransformed copies for the ``t = 0`` joint classes."""
  return joint_logits[::num_transforms, ::num_transforms]


def aggregated_logits(joint_logits: jax.Array, num_transforms: int) -> jax.Array:
  """SLA+AG: ``[B, N]``, ``(1/M) Σ_t`` logit of (class i, transform t) from the t-transformed copy."""
  m = num_transforms
  chex.assert_rank(joint_logits, 2, custom_message="joint_logits must be [B·M, N·M]")
  if joint_logits.shape[0] % m or joint_logits.shape[1] % m:
    raise ValueError(f"joint_logits shape {joint_logits.shape} must be [B·M, N·M] with "
                     f"num_transforms M = {m}")
  per_t = joint_logits.reshape(-1, m, joint_logits.shape[-1] // m, m)  # [B, t (row), class, t (col)]
  return jnp.mean(jnp.diagonal(per_t, axis1=1, axis2=3), axis=-1)


def sla_self_distillation_loss(joint_logits: jax.Array, single_head_logits: jax.Array,
                               joint_labels: jax.Array, labels: jax.Array, *, num_transforms: int,
                               temperature: float = 1.0) -> jax.Array:
  """SLA+SD batch loss: ``CE_joint + CE_single + T²·KL(softmax(agg/T) ‖ softmax(single/T))``.

  ``single_head_logits [B·M, N]`` is the extra N-way head on every row; only the identity rows are
  used. The aggregated target is under ``stop_gradient``. Returns a scalar (batch means, as the
  official code: KL with ``batchmean``).
  """
  single = single_head_logits[::num_transforms]
  agg = aggregated_logits(joint_logits, num_transforms)
  return (sla_loss(joint_logits, joint_labels).mean()
          + optax.softmax_cross_entropy_with_integer_labels(single, labels).mean()
          + kd_loss(single, agg, temperature=temperature).mean())


SLA_MODES = ("sla", "sla_sd", "da", "mt")


def sla_output_size(mode: str, num_classes: int, num_transforms: int) -> int:
  """Output units of the network for each mode: the joint ``N·M`` head (``sla``), joint + an N-way
  head (``sla_sd``), N (``da``: transformed copies keep their label) or N + M (``mt``: class and
  transform heads). Several heads on one trunk are one concatenated linear layer."""
  sizes = {"sla": num_classes * num_transforms, "sla_sd": num_classes * (num_transforms + 1),
           "da": num_classes, "mt": num_classes + num_transforms}
  if mode not in sizes:
    raise ValueError(f"sla mode must be one of {SLA_MODES}, got {mode!r}")
  return sizes[mode]


def sla_task_loss(outputs: jax.Array, labels: jax.Array, joint_labels: jax.Array, *, mode: str,
                  num_classes: int, num_transforms: int, temperature: float = 1.0) -> jax.Array:
  """The batch loss of ``mode`` on the ``[B·M, ...]`` outputs of the transformed batch: SLA's joint
  cross-entropy, SLA+SD's :func:`sla_self_distillation_loss`, or the paper's baselines — data
  augmentation (``da``: every copy labelled ``y``) and multi-task learning (``mt``: CE on the class
  plus CE on the transform)."""
  n, m = num_classes, num_transforms
  if mode == "sla":
    return sla_loss(outputs, joint_labels).mean()
  if mode == "sla_sd":
    return sla_self_distillation_loss(outputs[:, :n * m], outputs[:, n * m:], joint_labels, labels,
                                      num_transforms=m, temperature=temperature)
  copies = joint_labels // m
  if mode == "da":
    return optax.softmax_cross_entropy_with_integer_labels(outputs, copies).mean()
  if mode == "mt":
    return (optax.softmax_cross_entropy_with_integer_labels(outputs[:, :n], copies).mean()
            + optax.softmax_cross_entropy_with_integer_labels(outputs[:, n:], joint_labels % m).mean())
  raise ValueError(f"sla mode must be one of {SLA_MODES}, got {mode!r}")


def sla_predictions(outputs: jax.Array, *, mode: str, num_classes: int,
                    num_transforms: int) -> dict[str, jax.Array]:
  """``[B, N]`` class logits from the outputs on the ``M`` transformed copies of each test image; the
  first entry is the mode's main prediction: SLA+AG (``sla``), the SD head (``sla_sd``), the
  untransformed copy (``da``, ``mt``)."""
  n, m = num_classes, num_transforms
  if mode == "sla":
    return {"aggregated": aggregated_logits(outputs, m), "single": single_logits(outputs, m)}
  if mode == "sla_sd":
    return {"self_distilled": outputs[::m, n * m:],
            "aggregated": aggregated_logits(outputs[:, :n * m], m)}
  return {"identity": outputs[::m, :n]}
