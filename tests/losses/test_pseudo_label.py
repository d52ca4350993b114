"""Pseudo-labels, Lee's ramp, the Noisy Student loss and class balancing against the golden cases."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxtricks.data.semi_supervised import balance_pseudo_labels
from jaxtricks.losses import pseudo_label as pl
from tests.conftest import golden_cases, load_golden


def _meta(case):
  return json.loads(str(case["meta"]))


@pytest.mark.parametrize("path", golden_cases("data_efficient", "pseudo_label_basic*.npz"))
def test_labels_masks_and_soft_targets(path):
  case = load_golden(path)
  logits = jnp.asarray(case["teacher_logits"])
  np.testing.assert_array_equal(pl.hard_pseudo_labels(logits), case["hard_labels"])
  for tau in _meta(case)["taus"]:
    np.testing.assert_array_equal(pl.confidence_mask(logits, tau), case[f"mask_tau{tau:g}".replace(".", "p")])
  probs = jax.nn.softmax(logits)
  np.testing.assert_allclose(probs, case["probs"], atol=1e-6, rtol=0)
  for t in _meta(case)["temperatures"]:
    name = f"soft_T{t:.1f}".replace(".", "p")
    np.testing.assert_allclose(pl.soft_pseudo_labels(logits, t), case[name], atol=1e-6, rtol=0)
    np.testing.assert_allclose(pl.sharpen(probs, t), case[name + "_from_probs_float64"], atol=1e-6, rtol=0)
  np.testing.assert_allclose(pl.smoothed_one_hot(pl.hard_pseudo_labels(logits), 10, 0.1),
                             case["hard_target_ls0p1"], atol=1e-7, rtol=0)


@pytest.mark.parametrize("path", golden_cases("data_efficient", "pseudo_label_alpha_ramp*.npz"))
def test_alpha_ramp(path):
  case = load_golden(path)
  meta = _meta(case)
  ramp = lambda t: pl.alpha_ramp(t, t1=meta["T1"], t2=meta["T2"], alpha_f=meta["alpha_f"])  # noqa: E731
  alpha = jax.jit(ramp)(case["t"])
  np.testing.assert_allclose(alpha, case["alpha"], atol=1e-6, rtol=0)  # float32 of the float64 ramp


@pytest.mark.parametrize("path", golden_cases("data_efficient", "pseudo_label_ns_loss_*.npz"))
def test_noisy_student_loss(path):
  case = load_golden(path)
  meta = _meta(case)
  loss, metrics = jax.jit(lambda *a: pl.noisy_student_loss(
      *a, unlabel_ratio=meta["unlabel_ratio"], temperature=meta["teacher_softmax_temp"],
      label_smoothing=meta["label_smoothing"]))(case["student_logits_lab"], case["labels"],
                                                case["student_logits_unl"], case["teacher_logits_unl"])
  np.testing.assert_allclose(metrics["labelled_loss"], case["lab_loss"], rtol=1e-5)
  np.testing.assert_allclose(metrics["unlabelled_loss"], case["unl_loss"], rtol=1e-5)
  np.testing.assert_allclose(loss, case["data_loss"], rtol=1e-5)
  np.testing.assert_allclose(loss, meta["data_loss_float64"], rtol=1e-5)


def test_noisy_student_loss_gradient_skips_the_teacher():
  case = load_golden(golden_cases("data_efficient", "pseudo_label_ns_loss_*.npz")[0].values[0])
  grads = jax.grad(lambda s, t: pl.noisy_student_loss(case["student_logits_lab"], case["labels"], s, t,
                                                      unlabel_ratio=3.0)[0], argnums=(0, 1))(
      case["student_logits_unl"], case["teacher_logits_unl"])
  assert np.abs(grads[0]).max() > 0 and np.abs(grads[1]).max() == 0


@pytest.mark.parametrize("path", golden_cases("data_efficient", "pseudo_label_ns_balance_*.npz"))
def test_balance_matches_filter_unlabel(path):
  case = load_golden(path)
  meta = _meta(case)
  seed = int(meta["rng"].split("seed(")[1].split(")")[0])
  b = balance_pseudo_labels(case["probabilities"], num_image=meta["num_image"],
                            min_threshold=meta["min_threshold"], rng=np.random.RandomState(seed),
                            upsample=bool(meta["upsample"]))
  np.testing.assert_array_equal(b.threshold, case["threshold"])
  np.testing.assert_array_equal(b.total_image, case["total_image"])
  np.testing.assert_array_equal(b.eligible, case["eligible"])
  np.testing.assert_allclose(b.expected_copies, case["expected_copies"], rtol=1e-12)
  np.testing.assert_array_equal(b.copies, case["copies"])  # The same draws, in the official order.
  r = b.expected_copies[case["pred_class"]]
  assert ((b.copies == 0) | b.eligible).all()
  assert (b.copies[b.eligible] >= np.floor(r[b.eligible])).all()
  assert (b.copies[b.eligible] <= np.ceil(r[b.eligible])).all()
  capped = balance_pseudo_labels(case["probabilities"], num_image=meta["num_image"],
                                 min_threshold=meta["min_threshold"], rng=np.random.default_rng(0),
                                 upsample=False)
  assert capped.copies.max() <= 1


def test_pseudo_label_loss_uses_own_argmax_and_threshold():
  lab = jnp.array([[2.0, 0.0], [0.0, 1.0]])
  unl = jnp.array([[3.0, 0.0], [0.1, 0.0]])  # confident class 0; unsure class 0
  loss, m = pl.pseudo_label_loss(lab, jnp.array([0, 1]), unl, alpha=2.0)
  ce = optax.softmax_cross_entropy_with_integer_labels
  expected_unl = ce(unl, jnp.array([0, 0])).mean()
  np.testing.assert_allclose(m["unlabelled_loss"], expected_unl, rtol=1e-6)
  np.testing.assert_allclose(loss, ce(lab, jnp.array([0, 1])).mean() + 2.0 * expected_unl, rtol=1e-6)
  _, masked = pl.pseudo_label_loss(lab, jnp.array([0, 1]), unl, alpha=2.0, threshold=0.9)
  np.testing.assert_allclose(masked["unlabelled_loss"], ce(unl[:1], jnp.array([0])).sum() / 2, rtol=1e-6)
  assert float(masked["mask_rate"]) == 0.5
  g = jax.grad(lambda u: pl.pseudo_label_loss(lab, jnp.array([0, 1]), u, alpha=1.0)[0])(unl)
  # d CE(u, stop_grad(argmax u)) / du = softmax(u) − onehot(argmax u), the targets not differentiated.
  np.testing.assert_allclose(g, (jax.nn.softmax(unl) - jax.nn.one_hot(jnp.array([0, 0]), 2)) / 2, rtol=1e-5)


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_image=0, min_threshold=0.3), "num_image"),
    (dict(num_image=5, min_threshold=0.305), "min_threshold")])
def test_balance_rejects_bad_options(kwargs, message):
  with pytest.raises(ValueError, match=message):
    balance_pseudo_labels(np.full((4, 2), 0.5), rng=np.random.default_rng(0), **kwargs)
