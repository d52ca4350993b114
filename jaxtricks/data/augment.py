"""On-device batch augmentation: pad-and-crop, horizontal flip (dm-pix), and mixup."""

from __future__ import annotations

import dm_pix as pix
import jax
import jax.numpy as jnp


def random_crop_flip(rng: jax.Array, images: jax.Array, *, padding: int = 4,
                     flip: bool = True) -> jax.Array:
  """Zero-pads each image by ``padding`` pixels, crops back at a random offset, and flips half of them.

  The standard CIFAR augmentation (He et al., 2016). ``images`` is ``[B, H, W, C]``; jittable.
  """
  if padding == 0 and not flip:
    return images
  b, h, w, c = images.shape
  crop_keys, flip_keys = jax.random.split(rng, (2, b))

  def one(crop_key, flip_key, image):
    if padding:
      padded = jnp.pad(image, ((padding, padding), (padding, padding), (0, 0)))
      image = pix.random_crop(crop_key, padded, (h, w, c))
    if flip:
      image = pix.random_flip_left_right(flip_key, image)
    return image

  return jax.vmap(one)(crop_keys, flip_keys, images)


def mixup(rng: jax.Array, images: jax.Array, targets: jax.Array, *,
          alpha: float) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Mixup (Zhang et al., ICLR 2018) as coded in GluonCV: ``x̃ = λx + (1−λ)·x[::-1]``, same for targets.

  One ``λ ~ Beta(α, α)`` for the batch; the partner of example ``i`` is example ``B−1−i`` of the same
  (per-device) batch. ``targets`` are dense (already one-hot or smoothed).

  Returns:
    ``(mixed_images, mixed_targets, lam)``.
  """
  lam = jax.random.beta(rng, alpha, alpha)
  mixed_images, mixed_targets = mix_with_reversed(lam, images, targets)
  return mixed_images, mixed_targets, lam


def mix_with_reversed(lam: jax.Array, *arrays: jax.Array) -> tuple[jax.Array, ...]:
  """``λ·a + (1−λ)·a[::-1]`` for each array, keeping its dtype: the deterministic part of :func:`mixup`."""
  return tuple((lam * a + (1.0 - lam) * a[::-1]).astype(a.dtype) for a in arrays)
