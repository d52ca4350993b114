import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxtricks.losses import (class_balanced_loss, effective_number_weights, ldam_loss, logit_adjusted_logits,
                              soft_target_loss, softmax_focal_loss, weighted_focal_loss)
from tests.conftest import golden_cases, load_golden


def _loss_type(stem):
  return stem.split("_")[2]  # cb_tf_<loss>_... / cb_port_<loss>_...


@pytest.mark.parametrize("path", golden_cases("imbalance", "effnum_weights_*.npz"))
def test_effective_number_weights_match_official(path):
  g = load_golden(path)
  for beta, expected in zip(g["betas"], g["weights"]):
    w = effective_number_weights(g["samples_per_class"], float(beta))
    np.testing.assert_allclose(w, expected, rtol=1e-12)
    assert w.sum() == pytest.approx(len(w))


@pytest.mark.parametrize("path", golden_cases("imbalance", "cb_tf_*.npz"))
def test_class_balanced_loss_matches_official_tensorflow(path):
  g = load_golden(path)
  kwargs = dict(beta=float(g["beta"]), loss_type=_loss_type(path.stem), gamma=float(g["gamma"]))
  mean = lambda x: class_balanced_loss(x, g["labels"], g["samples_per_class"], **kwargs).mean()
  np.testing.assert_allclose(mean(g["logits"]), g["loss"], rtol=1e-5, atol=1e-6)
  grad = jax.grad(mean)(jnp.asarray(g["logits"]))
  np.testing.assert_allclose(grad, g["grad_logits"], rtol=0, atol=1e-6 * np.abs(g["grad_logits"]).max())


@pytest.mark.parametrize("path", golden_cases("imbalance", "cb_port_*.npz"))
def test_where_the_pytorch_port_differs(path):
  """Documents the port, values and gradients: focal is the library's (official) loss, sigmoid is the
  library's / C, "softmax" is a binary cross-entropy on softmax probabilities (not a softmax
  cross-entropy), which the library does not implement."""
  g = load_golden(path)
  kind = _loss_type(path.stem)
  num_classes = int(g["num_classes"])
  ours = lambda x: class_balanced_loss(x, g["labels"], g["samples_per_class"], beta=float(g["beta"]),
                                       loss_type=kind, gamma=float(g["gamma"])).mean()
  if kind == "focal":
    port = ours
  elif kind == "sigmoid":
    port = lambda x: ours(x) / num_classes
  else:
    def port(x):
      p = jax.nn.softmax(x)
      y = jax.nn.one_hot(g["labels"], num_classes)
      bce = -(y * jnp.maximum(jnp.log(p), -100) + (1 - y) * jnp.maximum(jnp.log(1 - p), -100))
      return jnp.mean(g["per_example_weight"][:, None] * bce)
    assert abs(float(ours(g["logits"])) - float(g["loss"])) > 0.1 * float(ours(g["logits"]))
  value, grad = jax.value_and_grad(port)(jnp.asarray(g["logits"]))
  np.testing.assert_allclose(value, g["loss"], rtol=1e-5, atol=1e-6)
  if kind == "softmax" and "big" in path.stem:
    return  # torch's BCE backward is (p − y)/max(p(1 − p), 1e-12), not the derivative of the clamped
    #         log that the re-implementation above differentiates: they part where p rounds to 1.
  np.testing.assert_allclose(grad, g["grad_logits"], rtol=0, atol=1e-6 * np.abs(g["grad_logits"]).max())


def test_beta_limits():
  counts = np.array([1000, 100, 10])
  np.testing.assert_array_equal(effective_number_weights(counts, 0.0), 1.0)
  inverse = (1 / counts) / (1 / counts).sum() * 3
  np.testing.assert_allclose(effective_number_weights(counts, 1 - 1e-9), inverse, rtol=1e-4)
  logits = jax.random.normal(jax.random.key(0), (6, 3))
  labels = jnp.array([0, 1, 2, 0, 1, 2])
  np.testing.assert_allclose(class_balanced_loss(logits, labels, counts, beta=0.0),
                             optax.softmax_cross_entropy_with_integer_labels(logits, labels), rtol=1e-6)


@pytest.mark.parametrize("loss_type, gamma", [("softmax", 0.0), ("sigmoid", 0.0), ("focal", 0.5),
                                              ("focal", 2.0)])
def test_finite_loss_and_gradient_at_extreme_logits(loss_type, gamma):
  logits = jnp.array([[-1e4, 0.0, 1e4], [1e4, -1e4, -1e4], [-1e4, -1e4, -1e4]], jnp.float32)
  labels = jnp.array([0, 1, 2])
  fn = lambda x: class_balanced_loss(x, labels, [10, 5, 2], beta=0.999, loss_type=loss_type,
                                     gamma=gamma).mean()
  assert np.isfinite(fn(logits))
  assert np.all(np.isfinite(jax.grad(fn)(logits)))
  focal = lambda x: softmax_focal_loss(x, labels, gamma=gamma).mean()
  assert np.isfinite(focal(logits)) and np.all(np.isfinite(jax.grad(focal)(logits)))


def test_softmax_focal_loss():
  logits = jax.random.normal(jax.random.key(1), (8, 5)) * 3
  labels = jnp.arange(8) % 5
  ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
  np.testing.assert_allclose(softmax_focal_loss(logits, labels, gamma=0.0), ce, rtol=1e-6)
  p_y = jnp.exp(-ce)
  np.testing.assert_allclose(softmax_focal_loss(logits, labels, gamma=2.0), (1 - p_y) ** 2 * ce,
                             rtol=1e-4, atol=1e-6)
  alpha = jnp.arange(1.0, 6.0)
  np.testing.assert_allclose(softmax_focal_loss(logits, labels, gamma=2.0, alpha=alpha),
                             alpha[labels] * (1 - p_y) ** 2 * ce, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(samples_per_class=[10, 0, 5]), ValueError, "samples_per_class must be > 0"),
    (dict(samples_per_class=[10, 5]), ValueError, "samples_per_class has 2 entries but logits have 3"),
    (dict(beta=1.0), ValueError, r"beta must be in \[0, 1\)"),
    (dict(beta=-0.1), ValueError, r"beta must be in \[0, 1\)"),
    (dict(loss_type="hinge"), ValueError, "loss_type must be one of"),
    (dict(labels=jnp.array([0.0, 1.0])), TypeError, "labels must be integer"),
])
def test_bad_input(kwargs, error, match):
  args = dict(logits=jnp.zeros((2, 3)), labels=jnp.array([0, 1]), samples_per_class=[10, 5, 2],
              beta=0.9, loss_type="softmax")
  args.update(kwargs)
  with pytest.raises(error, match=match):
    class_balanced_loss(args.pop("logits"), args.pop("labels"), args.pop("samples_per_class"), **args)


@pytest.mark.parametrize("loss_type, gamma", [("softmax", 0.0), ("sigmoid", 0.0), ("focal", 1.0)])
def test_soft_target_loss_on_one_hot_targets_is_the_unweighted_class_balanced_loss(loss_type, gamma):
  logits = jax.random.normal(jax.random.key(2), (8, 5)) * 4
  labels = jnp.arange(8) % 5
  dense = soft_target_loss(logits, jax.nn.one_hot(labels, 5), loss_type=loss_type, gamma=gamma)
  np.testing.assert_allclose(dense, class_balanced_loss(logits, labels, [9] * 5, beta=0.0,
                                                        loss_type=loss_type, gamma=gamma), rtol=1e-5)
  smoothed = optax.smooth_labels(jax.nn.one_hot(labels, 5), 0.1)
  if loss_type == "sigmoid":
    np.testing.assert_allclose(soft_target_loss(logits, smoothed, loss_type="sigmoid"),
                               optax.sigmoid_binary_cross_entropy(logits, smoothed).sum(-1), rtol=1e-5)
  with pytest.raises(ValueError, match="loss_type must be one of"):
    soft_target_loss(logits, smoothed, loss_type="hinge")


@pytest.mark.parametrize("path", golden_cases("imbalance", "m2m_focal_*.npz"))
def test_weighted_focal_loss_matches_m2m_code(path):
  g = load_golden(path)
  fn = lambda x: weighted_focal_loss(x, g["labels"], gamma=float(g["gamma"]),  # noqa: E731
                                     class_weights=g["class_weights"])
  np.testing.assert_allclose(fn(g["logits"]), g["loss_per_example"], rtol=1e-5, atol=1e-6)
  grad = jax.grad(lambda x: fn(x).mean())(jnp.asarray(g["logits"]))
  np.testing.assert_allclose(grad, g["grad_logits_of_mean"], rtol=0,
                             atol=1e-6 * np.abs(g["grad_logits_of_mean"]).max())


@pytest.mark.parametrize("path", golden_cases("imbalance", "m2m_ldam_*.npz"))
def test_ldam_loss_matches_m2m_code(path):
  g = load_golden(path)
  weights = g.get("class_weights")
  fn = lambda x: ldam_loss(x, g["labels"], g["samples_per_class"], max_margin=float(g["max_m"]),
                           scale=float(g["s"]), class_weights=weights)
  np.testing.assert_allclose(fn(g["logits"]), g["loss_per_example"], rtol=1e-5, atol=1e-6)
  grad = jax.grad(lambda x: fn(x).mean())(jnp.asarray(g["logits"]))
  np.testing.assert_allclose(grad, g["grad_logits_of_mean"], rtol=0,
                             atol=1e-6 * np.abs(g["grad_logits_of_mean"]).max())
  if "drwbeta0p999" in path.stem:  # DRW weights are the effective-number weights.
    np.testing.assert_allclose(effective_number_weights(g["samples_per_class"], float(g["eff_beta"])),
                               g["class_weights"], rtol=1e-6)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_soft_target_focal_loss_against_the_direct_formula(gamma):
  """``Σ_c t_c (1 − σ(x_c))^γ (−log σ(x_c)) + (1 − t_c) σ(x_c)^γ (−log(1 − σ(x_c)))`` in float64."""
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(6, 5)) * 3
  targets = rng.dirichlet(np.ones(5), size=6)  # Soft targets, as after smoothing or mixup.
  p = 1 / (1 + np.exp(-logits))
  direct = (targets * (1 - p) ** gamma * -np.log(p) + (1 - targets) * p ** gamma * -np.log(1 - p)).sum(-1)
  ours = soft_target_loss(logits.astype(np.float32), targets.astype(np.float32), loss_type="focal",
                          gamma=gamma)
  np.testing.assert_allclose(ours, direct, rtol=1e-5, atol=1e-6)
  softmax = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
  direct = -(targets * (1 - softmax) ** gamma * np.log(softmax)).sum(-1)
  ours = soft_target_loss(logits.astype(np.float32), targets.astype(np.float32), loss_type="softmax_focal",
                          gamma=gamma)
  np.testing.assert_allclose(ours, direct, rtol=1e-5, atol=1e-6)


def test_logit_adjusted_loss_is_the_balanced_softmax_written_out():
  """τ = 1: ``−log(n_y e^{z_y} / Σ_c n_c e^{z_c})`` (Ren et al., 2020); τ scales log π (Menon et al.,
  2021); τ = 0 leaves the logits alone; rare true classes pay more (a larger margin), frequent ones less."""
  rng = np.random.default_rng(0)
  z, y = rng.normal(size=(6, 4)), np.array([0, 1, 2, 3, 3, 0])
  counts = np.array([50.0, 20.0, 5.0, 1.0])
  balanced = -np.log(counts[y] * np.exp(z[np.arange(6), y]) / (counts * np.exp(z)).sum(1))
  ce = lambda logits: optax.softmax_cross_entropy_with_integer_labels(logits, y)  # noqa: E731
  np.testing.assert_allclose(ce(logit_adjusted_logits(jnp.float32(z), counts)), balanced, rtol=1e-5)
  half = -np.log(counts[y] ** 0.5 * np.exp(z[np.arange(6), y]) / (counts ** 0.5 * np.exp(z)).sum(1))
  np.testing.assert_allclose(ce(logit_adjusted_logits(jnp.float32(z), counts, tau=0.5)), half, rtol=1e-5)
  np.testing.assert_array_equal(logit_adjusted_logits(jnp.float32(z), counts, tau=0.0), jnp.float32(z))
  plain = ce(jnp.float32(z))
  assert np.all(balanced[y == 3] > plain[y == 3]) and np.all(balanced[y == 0] < plain[y == 0])
  with pytest.raises(AssertionError, match="samples_per_class"):
    logit_adjusted_logits(jnp.float32(z), counts[:3])
  with pytest.raises(ValueError, match="samples_per_class must be positive"):
    logit_adjusted_logits(jnp.float32(z), np.array([3.0, 0.0, 1.0, 1.0]))
