"""Deep InfoMax encoder (Hjelm et al., ICLR 2019) for small images, with its local and global MI
networks and the prior-matching discriminator."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxtricks.models.layers import ModelOutput, output_head
from jaxtricks.models.small import conv_trunk
from jaxtricks.parallel import example_keys


@jax.custom_vjp
def _reverse_gradient(x):
  return x


_reverse_gradient.defvjp(lambda x: (x, None), lambda _, g: (-g,))


PRIOR_OBJECTIVES = ("nonsaturating", "minimax")


class PriorDiscriminator(nn.Module):
  """The prior-matching discriminator: an MLP (256–64–1, ReLU) scoring codes in [0, 1]."""

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    x = nn.relu(nn.Dense(256)(x))
    x = nn.relu(nn.Dense(64)(x))
    return nn.Dense(1)(x)[:, 0]


class DeepInfoMax(nn.Module):
  """The SmallCNN trunk (:func:`~jaxtricks.models.small.conv_trunk`): the local map
  ``[N, h, w, 2w]`` and, from the pooled features, the code ``head`` (``num_classes`` = code size).

  Returns ``(code, aux)``; ``aux`` holds the pooled ``embedding`` and, with ``infomax_heads``,
  ``local_mi`` ``[N, units, h·w]`` and
  ``global_mi`` ``[N, units, 1]`` (the MI networks: 1×1 convolutions on the local map and an MLP on the
  code, both with a linear shortcut, as in the official ``LocalDIM``), and ``prior_scores``, the
  discriminator's outputs: ``prior`` on uniform prior samples and ``encoded`` on
  ``sigmoid(code)``, so that one optimiser trains the discriminator to separate them and the encoder
  to fool it. ``prior_objective``:

  * ``nonsaturating`` (the official code): ``encoded`` sees the code detached, and ``generator`` is
    the discriminator, its parameters under ``stop_gradient``, on the live code: the encoder's loss
    ``softplus(−generator)`` trains the encoder only;
  * ``minimax``: ``encoded`` sees the code behind a gradient-reversal layer, so the encoder descends
    the negated discriminator loss (saturating where the discriminator is confident).
  """

  num_classes: int = 64
  width: int = 32
  mi_units: int = 128
  infomax_heads: bool = True  # The MI networks and the discriminator (off for a probe on the encoder).
  activation: str = "relu"
  bn_momentum: float = 0.9
  prior_bias: bool = False
  l2_normalize: bool = False
  prior_objective: str = "nonsaturating"
  dtype: Any = jnp.float32
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool, dropout: bool | None = None) -> ModelOutput:
    del dropout  # No dropout layer.
    local, pooled = conv_trunk(x, width=self.width, activation=self.activation,
                               bn_momentum=self.bn_momentum, dtype=self.dtype,
                               axis_name=self.axis_name, train=train)
    code = output_head(pooled, self.num_classes, prior_bias=self.prior_bias,
                       l2_normalize=self.l2_normalize, dtype=self.dtype)
    if not self.infomax_heads:
      return code, {"embedding": pooled}

    def mi_net(h, name):
      hidden = nn.relu(nn.Dense(self.mi_units, name=f"{name}_0")(h))
      return nn.Dense(self.mi_units, name=f"{name}_1")(hidden) + nn.Dense(
          self.mi_units, use_bias=False, name=f"{name}_shortcut")(h)

    flat_local = local.astype(jnp.float32).reshape(local.shape[0], -1, local.shape[-1])
    local_mi = jnp.swapaxes(mi_net(flat_local, "local_mi"), 1, 2)
    global_mi = mi_net(code, "global_mi")[:, :, None]

    if self.prior_objective not in PRIOR_OBJECTIVES:
      raise ValueError(f"prior_objective must be one of {PRIOR_OBJECTIVES}, "
                       f"got {self.prior_objective!r}")
    discriminator = PriorDiscriminator(name="prior")
    prior = jnp.zeros_like(code)
    if train:  # One prior sample per example, keyed by its global position in the batch.
      keys = example_keys(self.make_rng("prior"), code.shape[0], self.axis_name)
      prior = jax.vmap(lambda k: jax.random.uniform(k, code.shape[1:]))(keys)
    encoded = jax.nn.sigmoid(code)
    scores = {"prior": discriminator(prior)}
    if self.prior_objective == "minimax":
      scores["encoded"] = discriminator(_reverse_gradient(encoded))
    else:
      scores["encoded"] = discriminator(jax.lax.stop_gradient(encoded))
      frozen = jax.lax.stop_gradient(discriminator.variables["params"])
      scores["generator"] = PriorDiscriminator(parent=None).apply({"params": frozen}, encoded)
    return code, {"embedding": pooled, "local_mi": local_mi, "global_mi": global_mi,
                  "prior_scores": scores}
