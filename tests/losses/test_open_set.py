import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxtricks.losses.open_set import (arpl_confusion_loss, arpl_logits, arpl_loss, arpl_open_set_score,
                                       reciprocal_distances, rpl_loss, rpl_open_set_score)
from tests.conftest import golden_cases, load_golden

_close = lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _grad_close(actual, expected, scale=1e-5):
  np.testing.assert_allclose(actual, expected, rtol=0, atol=scale * np.abs(expected).max())


@pytest.mark.parametrize("path", golden_cases("relational", "rpl_*.npz"))
def test_rpl_matches_official(path):
  g = load_golden(path)
  k = int(g["num_centers"])
  f, p, r = (jnp.asarray(g[key]) for key in ("features", "points", "radius"))
  _close(reciprocal_distances(f, p, num_centers=k), g["dist"])
  _close(jax.nn.softmax(reciprocal_distances(f, p, num_centers=k)), g["logits"])
  loss = lambda f, p, r: rpl_loss(f, g["labels"], p, r, num_centers=k, temperature=float(g["temp"]),
                                  weight=float(g["weight_pl"]), official_indexing=True).mean()
  value, grads = jax.value_and_grad(loss, argnums=(0, 1, 2))(f, p, r)
  _close(value, g["loss"])
  for grad, key in zip(grads, ("grad_features", "grad_points", "grad_radius")):
    _grad_close(np.reshape(grad, g[key].shape), g[key])
  _close(rpl_open_set_score(f, p, num_centers=k), g["open_set_score"])
  if k > 1:  # The paper's own-class points (rows c·K … c·K+K−1) instead of the official row y.
    paper = rpl_loss(f, g["labels"], p, r, num_centers=k, temperature=float(g["temp"]),
                     weight=float(g["weight_pl"]))
    _close(paper, _paper_rpl(g, k))
    assert abs(float(paper.mean()) - float(g["loss"])) > 1e-4


def _paper_rpl(g, k):
  """RPL with K points per class, written out per example in float64 from the paper's definition."""
  f, p, labels = (np.asarray(g[key], np.float64) for key in ("features", "points", "labels"))
  labels = labels.astype(int)
  out = []
  for x, y in zip(f, labels):
    d = np.array([np.mean([np.mean((x - p[c * k + j]) ** 2) for j in range(k)])
                  for c in range(len(p) // k)]) / float(g["temp"])
    ce = np.log(np.sum(np.exp(d - d.max()))) + d.max() - d[y]
    own = np.mean([np.mean((x - p[y * k + j]) ** 2) for j in range(k)])
    out.append(ce + float(g["weight_pl"]) * (own - float(np.ravel(g["radius"])[0])) ** 2)
  return np.array(out)


@pytest.mark.parametrize("path", golden_cases("relational", "arpl_*.npz"))
def test_arpl_matches_official(path):
  g = load_golden(path)
  f, p, r = (jnp.asarray(g[key]) for key in ("features", "points", "radius"))
  _close(reciprocal_distances(f, p), g["dist_l2"])
  _close(reciprocal_distances(f, p, metric="dot"), g["dist_dot"])
  _close(arpl_logits(f, p), g["logits"])
  loss = lambda f, p, r: arpl_loss(f, g["labels"], p, r, temperature=float(g["temp"]),
                                   weight=float(g["weight_pl"]), margin=float(g["margin"])).mean()
  value, grads = jax.value_and_grad(loss, argnums=(0, 1, 2))(f, p, r)
  _close(value, g["loss"])
  for grad, key in zip(grads, ("grad_features", "grad_points", "grad_radius")):
    _grad_close(np.reshape(grad, g[key].shape), g[key])
  fake, fake_grad = jax.value_and_grad(arpl_confusion_loss)(f, p)
  _close(fake, g["fake_loss"])
  exact = _official_fake_loss_grad_float64(g["features"], g["points"])
  _grad_close(fake_grad, exact)
  # The golden gradient is the official float32 result, which carries its own rounding (measured here,
  # not bounded: at D = 128 it reaches 2e-4·max): against it, that error plus the stated tolerance.
  reference_error = np.abs(g["grad_features_fake_loss"] - exact).max() / np.abs(exact).max()
  _grad_close(fake_grad, g["grad_features_fake_loss"], reference_error + 1e-5)
  _close(arpl_open_set_score(f, p), g["open_set_score"])


def _official_fake_loss_grad_float64(features, points):
  """∇_f of the official ``fake_loss`` (``Dist`` l2, ``softmax``, ``(p·log p).sum(1).mean().exp()``)
  evaluated in float64."""
  with jax.enable_x64(True):
    def official(f):
      p = jnp.asarray(points, jnp.float64)
      d = (jnp.sum(f ** 2, 1, keepdims=True) - 2 * f @ p.T + jnp.sum(p ** 2, 1)[None]) / f.shape[1]
      prob = jax.nn.softmax(d, axis=1)
      return jnp.exp(jnp.mean(jnp.sum(prob * jnp.log(prob), 1)))
    return np.asarray(jax.grad(official)(jnp.asarray(features, jnp.float64)))


@pytest.mark.parametrize("dim, scale", [(128, 1.0), (128, 0.3), (512, 1.0)])
def test_arpl_fake_loss_gradient_is_exact_at_large_feature_dims(dim, scale):
  """At D = 128 the official float32 gradient is ~1e-4·max off the exact one (cancellation in ∇ of
  ``|f|²/D`` and of ``p·log p``); the well-conditioned form stays within the README's 1e-5·max."""
  rng = np.random.default_rng(dim)
  f = (scale * rng.normal(size=(16, dim))).astype(np.float32)
  p = (0.1 * rng.normal(size=(6, dim))).astype(np.float32)
  _grad_close(jax.grad(arpl_confusion_loss)(jnp.asarray(f), jnp.asarray(p)),
              _official_fake_loss_grad_float64(f, p))


@pytest.mark.parametrize("temperature, weight", [(0.5, 0.1), (2.0, 0.3)])
def test_rpl_and_arpl_against_a_direct_formula(temperature, weight):
  """The golden RPL cases all use T = 1: temperature and weight are checked here against the formulas
  written out in float64 (one point per class)."""
  rng = np.random.default_rng(0)
  f, p = rng.normal(size=(6, 5)), rng.normal(size=(3, 5))
  y, radius = np.array([0, 1, 2, 0, 1, 2]), 0.4
  d = ((f[:, None, :] - p[None]) ** 2).mean(-1)  # |f − P_c|² / D
  ce = lambda z: -(z[np.arange(6), y] - np.log(np.exp(z).sum(1)))  # noqa: E731
  own = ((f - p[y]) ** 2).mean(-1)
  expected = ce(d / temperature) + weight * (own - radius) ** 2
  got = rpl_loss(jnp.float32(f), y, jnp.float32(p), jnp.float32(radius), temperature=temperature,
                 weight=weight)
  np.testing.assert_allclose(got, expected, rtol=1e-5)
  logits = d - f @ p.T
  expected = ce(logits / temperature) + weight * np.maximum(own - radius + 1.0, 0.0)
  got = arpl_loss(jnp.float32(f), y, jnp.float32(p), jnp.float32(radius), temperature=temperature,
                  weight=weight)
  np.testing.assert_allclose(got, expected, rtol=1e-5)
