import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxtricks.losses import (distillation_cross_entropy, kd_loss, pairwise_distances, rkd_angle_loss,
                              rkd_distance_loss, rkd_loss)
from tests.conftest import golden_cases, load_golden


def _close(actual, expected, *, rtol=1e-5, atol=1e-6):
  np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def _grad_close(actual, expected, scale=1e-5):
  np.testing.assert_allclose(actual, expected, rtol=0, atol=scale * np.abs(expected).max())


@pytest.mark.parametrize("path", golden_cases("imbalance", "kd_gluoncv_*.npz"))
def test_distillation_cross_entropy_matches_gluoncv(path):
  g = load_golden(path)
  kw = dict(temperature=float(g["temperature"]), hard_weight=float(g["hard_weight"]))
  loss = lambda s: distillation_cross_entropy(s, g["teacher_logits"], g["hard_labels_used"], **kw)
  _close(loss(g["student_logits"]), g["loss_per_example"], rtol=2e-5, atol=5e-6)  # README: MXNet noise.
  grad = jax.grad(lambda s: loss(s).mean())(jnp.asarray(g["student_logits"]))
  # MXNet's float32 gradients: the largest error measured over these files is 9.7e-6·max|g|.
  _grad_close(grad, g["grad_logits_of_mean"], 1e-5)


@pytest.mark.parametrize("path", golden_cases("imbalance", "kd_torch_*.npz"))
def test_kd_loss_matches_repdistiller_and_documents_the_element_mean_port(path):
  g = load_golden(path)
  t, a = float(g["temperature"]), float(g["alpha"])
  s0, teacher, labels = jnp.asarray(g["student_logits"]), g["teacher_logits"], g["labels"]
  num_classes = s0.shape[-1]
  ce = lambda s: optax.softmax_cross_entropy_with_integer_labels(s, labels).mean()
  kd = lambda s: kd_loss(s, teacher, temperature=t).mean()
  cases = {"kl_batchmean_T2_repdistiller": kd,
           "loss_hinton_batchmean": lambda s: a * kd(s) + (1 - a) * ce(s),
           # nn.KLDivLoss() averages over all B·C entries: the KD term is C times smaller.
           "loss_haitongli": lambda s: a * kd(s) / num_classes + (1 - a) * ce(s)}
  grads = {"kl_batchmean_T2_repdistiller": "grad_kl_batchmean_T2_repdistiller",
           "loss_hinton_batchmean": "grad_hinton_batchmean", "loss_haitongli": "grad_haitongli"}
  for key, fn in cases.items():
    _close(fn(s0), g[key])
    _grad_close(jax.grad(fn)(s0), g[grads[key]], 1e-6)


def test_teacher_gets_no_gradient():
  s, t = jax.random.normal(jax.random.key(0), (2, 6, 5))
  assert not np.any(jax.grad(lambda t: kd_loss(s, t, temperature=2.0).sum())(t))
  assert not np.any(jax.grad(lambda t: rkd_loss(s, t))(t))
  with pytest.raises(ValueError, match="temperature"):
    kd_loss(s, t, temperature=0.0)


@pytest.mark.parametrize("path", golden_cases("relational", "rkd_*.npz"))
def test_rkd_matches_official(path):
  g = load_golden(path)
  student, teacher = jnp.asarray(g["student"]), jnp.asarray(g["teacher"])
  with jax.enable_x64(student.dtype == np.float64):
    student, teacher = jnp.asarray(g["student"]), jnp.asarray(g["teacher"])
    _close(pairwise_distances(student), g["student_pdist"])
    _close(pairwise_distances(teacher), g["teacher_pdist"])
    for fn, loss_key, grad_key in [(rkd_distance_loss, "dist_loss", "grad_student_dist"),
                                   (lambda s, t: rkd_angle_loss(s, t, chunk_size=3), "angle_loss",
                                    "grad_student_angle"),
                                   (lambda s, t: rkd_loss(s, t, distance_weight=float(g["w_dist"]),
                                                          angle_weight=float(g["w_angle"])),
                                    "loss_d1_a2", "grad_student_d1_a2")]:
      loss, grad = jax.jit(jax.value_and_grad(fn))(student, teacher)
      _close(loss, g[loss_key])
      assert np.all(np.isfinite(grad))
      _grad_close(grad, g[grad_key])


def _official_angle_loss(student, teacher):
  """The official B×B×D formulation (lenscloth/RKD ``RKdAngle``), for comparison."""
  def angles(e):
    d = e[None, :, :] - e[:, None, :]
    sq = jnp.sum(d * d, -1, keepdims=True)
    norm = jnp.where(sq > 0, jnp.sqrt(jnp.where(sq > 0, sq, 1.0)), 0.0)
    n = d / jnp.maximum(norm, 1e-12)
    return jnp.einsum("ijd,ikd->ijk", n, n)
  return jnp.mean(optax.losses.huber_loss(angles(student), angles(jax.lax.stop_gradient(teacher))))


@pytest.mark.parametrize("batch,chunk", [(13, 4), (33, 8)])
def test_angle_loss_equals_the_official_formulation_for_any_chunking(batch, chunk):
  ks, kt = jax.random.split(jax.random.key(batch))
  student = jax.random.normal(ks, (batch, 5)) + 3.0  # A common offset: centring must remove it.
  teacher = jax.random.normal(kt, (batch, 9))
  student = student.at[2].set(student[5])  # A duplicate pair in the student only.
  ours, g_ours = jax.jit(jax.value_and_grad(lambda s: rkd_angle_loss(s, teacher, chunk_size=chunk)))(student)
  ref, g_ref = jax.jit(jax.value_and_grad(_official_angle_loss))(student, teacher)
  _close(ours, ref, rtol=1e-4)
  _grad_close(g_ours, g_ref, 1e-4)
