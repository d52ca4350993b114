import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxtricks.data import mix_with_reversed, mixup, random_crop_flip
from tests.conftest import golden_cases, load_golden


@pytest.mark.parametrize("path", golden_cases("imbalance", "mixup_gluoncv_*.npz"))
def test_mixup_matches_gluoncv(path):
  g = load_golden(path)
  targets = optax.smooth_labels(jax.nn.one_hot(g["labels"], int(g["num_classes"])), float(g["eta"]))
  images, mixed = mix_with_reversed(jnp.float32(g["lam"]), g["images"], targets)
  np.testing.assert_allclose(images, g["mixed_images"], rtol=2e-5, atol=5e-6)
  np.testing.assert_allclose(mixed, g["mixed_labels"], rtol=2e-5, atol=5e-6)
  loss_fn = lambda logits: optax.softmax_cross_entropy(logits, mixed)
  np.testing.assert_allclose(loss_fn(g["logits"]), g["loss_per_example"], rtol=2e-5, atol=5e-6)
  grad = jax.grad(lambda x: loss_fn(x).mean())(g["logits"])
  np.testing.assert_allclose(grad, g["grad_logits_of_mean"], rtol=2e-5, atol=5e-6)


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
