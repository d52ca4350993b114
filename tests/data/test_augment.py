"""On-device augmentation; mixup against GluonCV is tested with the task's targets
(tests/tasks/test_targets_golden.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxtricks.data import mixup, random_crop_flip


def test_mixup_draws_one_lambda_and_pairs_with_reversed_batch():
  x = jnp.arange(12.0).reshape(4, 3)
  y = jax.nn.one_hot(jnp.arange(4), 4)
  mx, my, lam = mixup(jax.random.key(0), x, y, alpha=0.2)
  assert 0.0 <= lam <= 1.0
  np.testing.assert_allclose(mx, lam * x + (1 - lam) * x[::-1], rtol=1e-6)
  np.testing.assert_allclose(my.sum(-1), 1.0, rtol=1e-6)


def test_crop_flip_keeps_shape_and_moves_content_within_padding():
  images = jax.random.normal(jax.random.key(1), (16, 8, 8, 3))
  out = jax.jit(lambda r, x: random_crop_flip(r, x, padding=2, flip=True))(jax.random.key(2), images)
  assert out.shape == images.shape
  assert not np.allclose(out, images)
  # Every output pixel is either padding (0) or a pixel of the same image.
  for i in range(4):
    values = set(np.round(np.asarray(images[i]).ravel(), 5)) | {0.0}
    assert set(np.round(np.asarray(out[i]).ravel(), 5)) <= values
  same = random_crop_flip(jax.random.key(2), images, padding=0, flip=False)
  np.testing.assert_array_equal(same, images)


def test_flip_mirrors_about_half_of_the_images_and_nothing_else():
  images = jax.random.normal(jax.random.key(3), (64, 6, 6, 2))
  out = np.asarray(random_crop_flip(jax.random.key(4), images, padding=0, flip=True))
  same = np.all(out == np.asarray(images), axis=(1, 2, 3))
  mirrored = np.all(out == np.asarray(images)[:, :, ::-1], axis=(1, 2, 3))
  assert np.all(same ^ mirrored)
  assert 20 <= mirrored.sum() <= 44


def test_mixup_refuses_integer_labels_instead_of_mixing_them():
  images = jnp.ones((4, 8, 8, 1))
  with pytest.raises(TypeError, match=r"targets must be a float array .*jax.nn.one_hot.*got dtype int32"):
    mixup(jax.random.key(0), images, jnp.arange(4, dtype=jnp.int32), alpha=0.2)
