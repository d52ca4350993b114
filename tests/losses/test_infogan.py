"""InfoGAN's mutual-information terms and player losses against openai/InfoGAN (golden), plus
invariants a wrong port would break."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxtricks.losses.infogan import discriminator_loss, generator_loss, mutual_information
from tests.conftest import golden_cases, load_golden

TOL = dict(rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("path", golden_cases("relational", "infogan_mi_*.npz"))
def test_mutual_information_and_losses_match_the_reference(path):
  g = load_golden(path)
  terms = mutual_information(g["q_flat"], g["c_cat_onehot"], g["c_cont"], fix_std=bool(g["fix_std"]))
  for key in ("disc_cross_ent", "disc_ent", "disc_mi_est", "cont_cross_ent", "cont_ent",
              "cont_mi_est", "mi_est", "cross_ent"):
    np.testing.assert_allclose(terms[key], g[key], **TOL, err_msg=key)
  lam = float(g["info_reg_coeff"])
  np.testing.assert_allclose(discriminator_loss(g["real_d"], g["fake_d"], terms["mi_est"], lam),
                             g["discriminator_loss"], **TOL)
  np.testing.assert_allclose(generator_loss(g["fake_d"], terms["mi_est"], lam), g["generator_loss"],
                             **TOL)


def test_fixed_std_ignores_the_log_variance_columns_and_learned_std_uses_them():
  rng = np.random.default_rng(0)
  q = rng.normal(size=(8, 14)).astype(np.float32)
  onehot = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 8)]
  cont = rng.uniform(-1, 1, (8, 2)).astype(np.float32)
  changed = q.copy()
  changed[:, [11, 13]] += 1.0
  fixed = lambda q: mutual_information(q, onehot, cont, fix_std=True)["mi_est"]
  learned = lambda q: mutual_information(q, onehot, cont, fix_std=False)["mi_est"]
  assert fixed(q) == fixed(changed)
  assert learned(q) != learned(changed)
  # A Q that predicts the code exactly has the largest MI: log K for the categorical part.
  perfect = np.concatenate([50 * onehot, np.stack([cont[:, 0], 0 * cont[:, 0], cont[:, 1],
                                                  0 * cont[:, 1]], 1)], 1)
  terms = mutual_information(perfect, onehot, cont)
  np.testing.assert_allclose(terms["disc_mi_est"], np.log(10), rtol=1e-5)
  assert terms["cont_mi_est"] > mutual_information(q, onehot, cont)["cont_mi_est"]
  grad = jax.grad(lambda q: mutual_information(q, onehot, cont)["mi_est"])(jnp.asarray(q))
  assert np.all(grad[:, [11, 13]] == 0) and np.any(grad[:, :10] != 0)


def test_bad_shapes_are_named_instead_of_broadcast():
  with pytest.raises(AssertionError, match=r"q_output must be \[B, K \+ 2·M = 14\]"):
    mutual_information(np.zeros((2, 13)), np.zeros((2, 10)), np.zeros((2, 2)))
  with pytest.raises(AssertionError, match=r"q_output must be \[B, K"):
    mutual_information(np.zeros((3, 14)), np.zeros((2, 10)), np.zeros((2, 2)))
  with pytest.raises(AssertionError, match=r"must be \[B, columns\]"):
    mutual_information(np.zeros((2, 14)), np.zeros((2, 10)), np.zeros(2))


def test_lambda_weights_the_information_term_in_both_losses():
  rng = np.random.default_rng(1)
  real_d, fake_d = rng.uniform(0.05, 0.95, (2, 16)).astype(np.float32)
  mi = np.float32(0.7)
  gan_d = -np.mean(np.log(real_d + 1e-8) + np.log(1 - fake_d + 1e-8))
  gan_g = -np.mean(np.log(fake_d + 1e-8))
  for lam in (0.0, 0.5, 2.0):
    np.testing.assert_allclose(discriminator_loss(real_d, fake_d, mi, lam), gan_d - lam * mi, rtol=1e-6)
    np.testing.assert_allclose(generator_loss(fake_d, mi, lam), gan_g - lam * mi, rtol=1e-6)
