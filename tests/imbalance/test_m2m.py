import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxtricks.imbalance import (accept, acceptance_table, draw_seeds, generation_probability, m2m_batch,
                                 random_start_noise, translate)
from tests.conftest import golden_cases, load_golden


def _linear_net(g, prefix):
  """The golden files' stand-in network: clamp to [0, 1], per-channel normalise, flatten, linear."""
  mean, std = g["norm_mean"][None, :, None, None], g["norm_std"][None, :, None, None]
  def apply(x):
    # torch.clamp passes the gradient at the bounds (jnp.clip halves it there): keep torch's rule.
    x = jnp.where((x >= 0) & (x <= 1), x, jnp.clip(x, 0, 1))
    x = (x - mean) / std
    return x.reshape(x.shape[0], -1) @ g[f"W{prefix}"].T + g[f"b{prefix}"]
  return apply


@pytest.mark.parametrize("path", golden_cases("imbalance", "m2m_generation_*.npz"))
def test_translation_matches_official_code(path):
  g = load_golden(path)
  g_apply, f_apply = _linear_net(g, "g"), _linear_net(g, "f")
  x_star = jax.jit(lambda x0, noise: translate(
      g_apply, f_apply, x0, g["seed_targets"], g["gen_targets"], steps=int(g["attack_iter"]),
      step_size=float(g["step_size"]), lam=float(g["lam"]), init_noise=noise))(g["x0"], g["init_noise"])
  np.testing.assert_allclose(x_star, g["x_star"], rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(jax.nn.softmax(g_apply(x_star)), g["probs_g_final"], rtol=1e-5, atol=1e-6)
  kept = accept(g_apply, x_star, g["gen_targets"], g["p_accept"], threshold=float(g["gamma"]))
  np.testing.assert_array_equal(kept, g["accepted"].astype(bool))


@pytest.mark.parametrize("path", golden_cases("imbalance", "m2m_paccept_*.npz"))
def test_seed_and_acceptance_probabilities_match_official_code(path):
  g = load_golden(path)
  table = acceptance_table(g["samples_per_class"], g["batch_targets"], beta=float(g["beta"]))
  np.testing.assert_allclose(table, g["p_accept_by_target_class"], rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(1 - generation_probability(g["samples_per_class"], g["batch_targets"]),
                             g["keep_prob"], rtol=1e-5)


def test_seeds_are_drawn_in_proportion_to_the_acceptance_table():
  counts, pool = [100, 30, 10], jnp.array([0, 0, 1, 1, 2])
  n = 20000  # Targets: class 2 (seeds in classes 0 and 1) and class 0 (no larger class: no seed).
  targets = jnp.concatenate([jnp.full((n,), 2), jnp.zeros((1,), int)])
  keys = jax.random.split(jax.random.key(0), n + 1)
  seeds, p, has_seed = draw_seeds(keys, counts, pool, targets, beta=0.99)
  row = np.asarray(acceptance_table(counts, pool, beta=0.99)[2])
  frequency = np.bincount(np.asarray(seeds[:n]), minlength=len(pool)) / n
  np.testing.assert_allclose(frequency, row / row.sum(), atol=0.01)  # 0.38, 0.38, 0.12, 0.12, 0: not uniform.
  np.testing.assert_allclose(p[:n], row[np.asarray(seeds[:n])])
  np.testing.assert_array_equal(has_seed, np.arange(n + 1) < n)


def test_random_start_noise_caps_per_sample_or_per_channel_as_officially():
  shape = (64, 8, 8, 3)
  per_sample = random_start_noise(jax.random.key(0), shape, radius=0.5)
  np.testing.assert_array_less(np.linalg.norm(per_sample.reshape(64, -1), axis=1), 0.5 + 1e-5)
  official = random_start_noise(jax.random.key(0), shape, radius=0.5, mode="official")
  per_channel = np.linalg.norm(np.moveaxis(np.asarray(official), -1, 0).reshape(3, -1), axis=1)
  np.testing.assert_allclose(per_channel, 0.5, rtol=1e-4)
  # The official cap leaves each example a perturbation ~1/sqrt(B) of the intended size.
  assert np.linalg.norm(official.reshape(64, -1), axis=1).mean() < 0.2
  with pytest.raises(ValueError, match="mode must be one of"):
    random_start_noise(jax.random.key(0), shape, mode="batch")


def test_translation_stays_in_data_range_and_moves_towards_target():
  w = jax.random.normal(jax.random.key(1), (12, 4))
  net = lambda x: x.reshape(x.shape[0], -1) @ w
  x0 = jax.random.uniform(jax.random.key(2), (6, 12))
  target = jnp.full((6,), 3)
  x_star = translate(net, net, x0, jnp.zeros(6, int), target, steps=20, step_size=0.1, lam=0.0)
  assert float(x_star.min()) >= 0 and float(x_star.max()) <= 1
  p0 = jax.nn.softmax(net(x0))[:, 3]
  p1 = jax.nn.softmax(net(x_star))[:, 3]
  assert np.all(p1 > p0)


def test_m2m_batch_replaces_only_accepted_minority_slots():
  w = jnp.eye(4)
  net = lambda x: 5.0 * x.reshape(x.shape[0], -1) @ w  # A confident linear "g": argmax = largest pixel.
  images = jnp.tile(jnp.eye(4)[jnp.array([0, 0, 0, 0, 1, 2, 3, 0])][:, None, :], (1, 1, 1))
  labels = jnp.array([0, 0, 0, 0, 1, 2, 3, 0])
  out, kept = m2m_batch(jax.random.key(0), images, labels, g_apply=net, f_apply=net,
                        samples_per_class=[1000, 10, 10, 10], beta=0.999, threshold=0.5, lam=0.0,
                        step_size=0.5, steps=10, data_range=(0.0, 1.0))
  assert not np.any(np.asarray(kept)[labels == 0])  # Majority slots are never generation slots.
  assert np.any(kept)
  for i in np.flatnonzero(kept):  # Translated towards the slot's own (minority) label.
    assert int(jnp.argmax(net(out[i:i + 1]))) == int(labels[i])
  untouched = ~np.asarray(kept)
  np.testing.assert_array_equal(np.asarray(out)[untouched], np.asarray(images)[untouched])
