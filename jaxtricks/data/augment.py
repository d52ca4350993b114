"""On-device batch augmentation: pad-and-crop, horizontal flip (dm-pix), and mixup.

Inside a parallel step (``axis_name`` given) every draw is keyed by the example's global position and
mixup pairs examples across the global batch, so the result does not depend on the device count.
"""

from __future__ import annotations

import chex
import dm_pix as pix
import jax
import jax.numpy as jnp

from jaxtricks.parallel import example_keys, mirror_shard


def random_crop_flip(rng: jax.Array, images: jax.Array, *, padding: int = 4, flip: bool = True,
                     axis_name: str | None = None) -> jax.Array:
  """Zero-pads each image by ``padding`` pixels, crops back at a random offset, and flips half of them.

  The standard CIFAR augmentation (He et al., 2016). ``images`` is ``[B, H, W, C]``; example ``i`` uses
  the key ``fold_in(rng, global position of i)`` (:func:`jaxtricks.parallel.example_keys`); jittable.
  """
  if padding == 0 and not flip:
    return images
  b, h, w, c = images.shape

  def one(key, image):
    crop_key, flip_key = jax.random.split(key)
    if padding:
      padded = jnp.pad(image, ((padding, padding), (padding, padding), (0, 0)))
      image = pix.random_crop(crop_key, padded, (h, w, c))
    if flip:
      image = pix.random_flip_left_right(flip_key, image)
    return image

  return jax.vmap(one)(example_keys(rng, b, axis_name), images)


def mixup(rng: jax.Array, images: jax.Array, targets: jax.Array, *, alpha: float,
          axis_name: str | None = None) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Mixup (Zhang et al., ICLR 2018) as coded in GluonCV: ``x̃ = λx + (1−λ)·x[::-1]``, same for targets.

  One ``λ ~ Beta(α, α)`` for the batch; the partner of example ``i`` is example ``B−1−i`` of the
  batch — of the *global* batch inside a parallel step (``axis_name``). ``targets`` are dense (already
  one-hot or smoothed).

  Returns:
    ``(mixed_images, mixed_targets, lam)``.
  """
  chex.assert_equal_shape_prefix([images, targets], 1,
                                 custom_message="images and targets must have one batch size")
  for name, array in (("images", images), ("targets", targets)):
    if not jnp.issubdtype(array.dtype, jnp.floating):
      raise TypeError(f"mixup mixes floats: {name} must be a float array (targets dense, e.g. "
                      f"jax.nn.one_hot(labels, C)), got dtype {array.dtype}")
  lam = jax.random.beta(rng, alpha, alpha)
  mixed_images, mixed_targets = mix_with_reversed(lam, images, targets, axis_name=axis_name)
  return mixed_images, mixed_targets, lam


def mix_with_reversed(lam: jax.Array, *arrays: jax.Array,
                      axis_name: str | None = None) -> tuple[jax.Array, ...]:
  """``λ·a + (1−λ)·a[::-1]`` for each array, keeping its dtype: the deterministic part of :func:`mixup`
  (``a[::-1]`` of the global batch inside a parallel step)."""
  reverse = (lambda a: a[::-1]) if axis_name is None else (lambda a: mirror_shard(a, axis_name))
  return tuple((lam * a + (1.0 - lam) * reverse(a)).astype(a.dtype) for a in arrays)
