import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxtricks.adversarial import fgsm, pgd


@pytest.fixture
def linear_problem():
  kw, kx = jax.random.split(jax.random.key(0))
  w = jax.random.normal(kw, (12, 3))
  x = jax.random.uniform(kx, (16, 12), minval=0.2, maxval=0.8)
  y = jnp.arange(16) % 3
  loss = lambda x: optax.softmax_cross_entropy_with_integer_labels(x @ w, y)
  return x, loss


def test_fgsm_is_the_signed_gradient_step(linear_problem):
  x, loss = linear_problem
  adv = fgsm(loss, x, epsilon=0.05)
  g = jax.grad(lambda x: loss(x).sum())(x)
  np.testing.assert_allclose(adv, jnp.clip(x + 0.05 * jnp.sign(g), 0, 1), atol=1e-7)
  assert np.all(loss(adv) >= loss(x))


@pytest.mark.parametrize("norm,epsilon", [("linf", 0.03), ("l2", 0.3)])
def test_pgd_stays_in_the_ball_and_data_range_and_beats_fgsm(linear_problem, norm, epsilon):
  x, loss = linear_problem
  attack = jax.jit(lambda r, x: pgd(r, loss, x, epsilon=epsilon, step_size=epsilon / 4, steps=10,
                                    norm=norm))
  adv = attack(jax.random.key(1), x)
  delta = np.asarray(adv - x)
  if norm == "linf":
    assert np.abs(delta).max() <= epsilon + 1e-6
  else:
    assert np.linalg.norm(delta, axis=1).max() <= epsilon + 1e-5
  assert adv.min() >= 0 and adv.max() <= 1
  assert loss(adv).mean() > loss(x).mean()
  if norm == "linf":
    assert loss(adv).mean() >= loss(fgsm(loss, x, epsilon=epsilon)).mean() - 1e-4
  with pytest.raises(ValueError, match="norm"):
    pgd(None, loss, x, epsilon=0.1, step_size=0.1, steps=1, norm="l1")


def test_trainer_reports_robust_accuracy_under_pgd(tmp_path):
  from jaxtricks.training import fit
  from jaxtricks.training.config import load_config
  from tests.conftest import REPO

  config = load_config(REPO / "configs" / "digits_student.py", "smoke")
  config.progress = False
  config.eval_pgd.update(epsilon=0.5, step_size=0.2, steps=3)
  final, _ = fit(config, tmp_path)
  assert 0 <= final["eval/robust_accuracy"] <= final["eval/accuracy"]
