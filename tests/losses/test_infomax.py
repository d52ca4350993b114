import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxtricks.losses.infomax import (MEASURES, dim_scores, donsker_varadhan_loss, fenchel_dual_loss,
                                      infonce_loss, prior_matching_losses)
from tests.conftest import golden_cases, load_golden


def _check(fn, g, key):
  value, (grad_l, grad_m) = jax.jit(jax.value_and_grad(fn, argnums=(0, 1)))(
      jnp.asarray(g["l"]), jnp.asarray(g["m"]))
  np.testing.assert_allclose(value, g[f"{key}_loss"], rtol=1e-5, atol=1e-6, err_msg=key)
  for grad, ref in ((grad_l, g[f"{key}_grad_l"]), (grad_m, g[f"{key}_grad_m"])):
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, ref, rtol=0, atol=1e-5 * np.abs(ref).max(), err_msg=key)


@pytest.mark.parametrize("path", golden_cases("relational", "dim_n*.npz"))
def test_dim_estimators_match_official(path):
  g = load_golden(path)
  np.testing.assert_allclose(dim_scores(g["l"], g["m"]), g["score_u"], rtol=1e-5, atol=1e-6)
  for measure in MEASURES:
    _check(lambda local, code: fenchel_dual_loss(local, code, measure=measure), g, f"fd_{measure}")
  _check(infonce_loss, g, "nce")
  _check(donsker_varadhan_loss, g, "dv_fixed")
  if "dv_official_91f46d3_single_global_loss" in g:
    np.testing.assert_allclose(donsker_varadhan_loss(g["l"], g["m"]),
                               g["dv_official_91f46d3_single_global_loss"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("path", golden_cases("relational", "dim_prior_matching*.npz"))
def test_prior_matching_matches_official(path):
  g = load_golden(path)
  for measure in ("GAN", "JSD"):
    out = prior_matching_losses(g["d_prior"], g["d_encoded"], measure=measure)
    np.testing.assert_allclose(out["discriminator"], g[f"{measure}_disc_loss"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["encoder"], g[f"{measure}_encoder_loss_nonsat"], rtol=1e-5, atol=1e-6)
    grad = jax.grad(lambda d: prior_matching_losses(g["d_prior"], d, measure=measure)["encoder"])(
        jnp.asarray(g["d_encoded"]))
    np.testing.assert_allclose(grad, g[f"{measure}_grad_encoded_nonsat"], rtol=1e-5, atol=1e-7)
  with pytest.raises(ValueError, match="measure"):
    fenchel_dual_loss(g["d_prior"][None, None, :1], g["d_prior"][None, None, :1], measure="DV")


def test_deep_infomax_model_returns_what_the_estimators_need_and_reverses_the_prior_gradient():
  from jaxtricks.models.infomax import DeepInfoMax, _reverse_gradient

  assert jax.grad(lambda x: jnp.sum(_reverse_gradient(x) ** 2))(jnp.ones(3)).tolist() == [-2.0] * 3
  model = DeepInfoMax(num_classes=8, width=4, mi_units=6)
  x = jnp.ones((5, 8, 8, 1))
  variables = model.init(jax.random.key(0), x, train=False)
  (code, aux), _ = model.apply(variables, x, train=True, mutable=["batch_stats"],
                               rngs={"prior": jax.random.key(1)})
  assert code.shape == (5, 8)
  assert aux["local_mi"].shape == (5, 6, 16) and aux["global_mi"].shape == (5, 6, 1)
  assert np.isfinite(fenchel_dual_loss(aux["local_mi"], aux["global_mi"]))
  assert "global_mi_0" not in DeepInfoMax(num_classes=8, width=4, infomax_heads=False).init(
      jax.random.key(0), x, train=False)["params"]


@pytest.mark.parametrize("objective", ["nonsaturating", "minimax"])
def test_prior_matching_objectives_send_each_loss_to_the_right_network(objective):
  """Non-saturating (the official code): the discriminator's loss trains the discriminator only and
  the encoder's ``softplus(−D(code))`` the encoder only. Minimax: the discriminator's loss trains both,
  the encoder through gradient reversal."""
  from jaxtricks.models.infomax import DeepInfoMax

  model = DeepInfoMax(num_classes=8, width=4, mi_units=6, prior_objective=objective)
  x = jax.random.normal(jax.random.key(2), (6, 8, 8, 1))
  variables = model.init(jax.random.key(0), x, train=False)

  def losses(params):
    (_, aux), _ = model.apply({**variables, "params": params}, x, train=True, mutable=["batch_stats"],
                              rngs={"prior": jax.random.key(1)})
    scores = aux["prior_scores"]
    out = {"discriminator": prior_matching_losses(scores["prior"], scores["encoded"])["discriminator"]}
    if objective == "nonsaturating":
      out["encoder"] = prior_matching_losses(scores["prior"], scores["generator"])["encoder"]
    return out, scores

  out, scores = losses(variables["params"])
  if objective == "nonsaturating":
    np.testing.assert_allclose(out["encoder"], jnp.mean(jax.nn.softplus(-scores["generator"])), rtol=1e-6)
    np.testing.assert_allclose(scores["generator"], scores["encoded"], rtol=1e-6)
  norm = lambda tree: float(sum(jnp.sum(jnp.abs(leaf)) for leaf in jax.tree.leaves(tree)))
  d_grads = jax.grad(lambda p: losses(p)[0]["discriminator"])(variables["params"])
  assert norm(d_grads["prior"]) > 0
  if objective == "nonsaturating":
    assert norm(d_grads["head"]) == 0
    e_grads = jax.grad(lambda p: losses(p)[0]["encoder"])(variables["params"])
    assert norm(e_grads["prior"]) == 0 and norm(e_grads["head"]) > 0
  else:
    assert norm(d_grads["head"]) > 0
