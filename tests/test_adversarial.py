import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxtricks.adversarial import fgsm, pgd, targeted_pgd_l2


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


def _robustness_targeted_l2(w, x, t, eps, step_size, steps):
  """MadryLab robustness' targeted L2 attack loop, in float64 NumPy, for ``logits = x @ w``."""
  def losses_and_grad(z):
    logits = z @ w
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    loss = -np.log(p[np.arange(len(t)), t])
    onehot = np.eye(w.shape[1])[t]
    return loss, (p - onehot) @ w.T  # d loss_i / d z_i
  x0, z = x.copy(), x.copy()
  best_loss, best_x = None, None
  for _ in range(steps):
    loss, g = losses_and_grad(z)
    g = -g  # m = −1: the step ascends −loss
    if best_loss is None:
      best_loss, best_x = loss.copy(), z.copy()
    else:
      better = loss < best_loss
      best_loss[better], best_x[better] = loss[better], z[better]
    z = z + step_size * g / (np.linalg.norm(g, axis=1, keepdims=True) + 1e-10)
    diff = z - x0
    norm = np.linalg.norm(diff, axis=1, keepdims=True)
    diff = np.where(norm > eps, diff * eps / (norm + 1e-7), diff)
    z = np.clip(x0 + diff, 0, 1)
  loss, _ = losses_and_grad(z)
  better = loss < best_loss
  best_x[better] = z[better]
  return best_x, z


@pytest.mark.parametrize("use_best", [True, False])
def test_targeted_l2_pgd_is_the_robustness_library_loop(use_best):
  kw, kx = jax.random.split(jax.random.key(1))
  w = np.asarray(jax.random.normal(kw, (12, 4)), np.float64)
  x = np.asarray(jax.random.uniform(kx, (32, 12), minval=0.1, maxval=0.9), np.float64)
  t = np.arange(32) % 4
  best, last = _robustness_targeted_l2(w, x, t, 0.6, 0.15, 12)
  loss = lambda z: optax.softmax_cross_entropy_with_integer_labels(z @ jnp.float32(w), t)  # noqa: E731
  ours = targeted_pgd_l2(loss, jnp.float32(x), epsilon=0.6, step_size=0.15, steps=12, use_best=use_best)
  if use_best:  # Near-ties between iterates may resolve differently in float32: compare the losses.
    np.testing.assert_allclose(loss(ours), loss(jnp.float32(best)), rtol=1e-5, atol=1e-6)
    oscillating = np.linalg.norm(best - last, axis=1) > 1e-3  # where the best is not the last
    assert oscillating.sum() >= 4
    assert np.all(np.asarray(loss(ours))[oscillating] < np.asarray(loss(jnp.float32(last)))[oscillating])
  else:
    np.testing.assert_allclose(ours, last, atol=1e-5)
  assert np.all(np.linalg.norm(np.asarray(ours) - x, axis=1) <= 0.6 + 1e-5)
  if use_best:  # never worse than the start or the last iterate
    assert np.all(loss(ours) <= loss(jnp.float32(x)) + 1e-6)
    assert np.all(loss(ours) <= loss(jnp.float32(last)) + 1e-6)
