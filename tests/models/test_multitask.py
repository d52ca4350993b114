"""MMoE, OMoE and Shared-Bottom: parity with the keras-mmoe layer (golden), parameter counts, gates."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxtricks.models import MultiTaskNet, shared_bottom_units
from tests.conftest import golden_cases, load_golden


def _params_from_golden(g: dict) -> dict:
  tower = lambda layer, part: np.stack([g[f"tower{k}_dense{layer}_{part}"] for k in (0, 1)])
  return {"moe": {"expert_kernel": g["expert_kernel"], "expert_bias": g["expert_bias"],
                  "gate": {"kernel": np.stack([g["gate_kernel_0"], g["gate_kernel_1"]], axis=1),
                            "bias": np.stack([g["gate_bias_0"], g["gate_bias_1"]])}},
          "towers": {"hidden_kernel": tower(0, "kernel"), "hidden_bias": tower(0, "bias"),
                     "output_kernel": tower(1, "kernel"), "output_bias": tower(1, "bias")}}


@pytest.mark.parametrize("path", golden_cases("relational", "mmoe_layer_forward*.npz"))
def test_mmoe_matches_the_keras_layer_forward_and_gradients(path):
  g = load_golden(path)
  model = MultiTaskNet(kind="mmoe", num_classes=2, num_experts=3, units=4, tower_hidden=8)
  params = _params_from_golden(g)
  shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), g["x"]))["params"]
  assert jax.tree.map(np.shape, params) == jax.tree.map(lambda s: s.shape, shapes)
  labels = np.concatenate([g["label0"], g["label1"]], axis=1)

  def total_loss(p):
    preds, aux = model.apply({"params": p}, g["x"])
    return jnp.sum(jnp.mean((preds - labels) ** 2, axis=0)), (preds, aux)

  (loss, (preds, aux)), grads = jax.value_and_grad(total_loss, has_aux=True)(params)
  tol = dict(rtol=1e-5, atol=1e-6)
  gates = aux["gates"]
  np.testing.assert_allclose(gates[:, 0], g["gate0"], **tol)
  np.testing.assert_allclose(gates[:, 1], g["gate1"], **tol)
  np.testing.assert_allclose(preds, np.concatenate([g["pred0"], g["pred1"]], axis=1), **tol)
  np.testing.assert_allclose(loss, g["total_loss"], **tol)
  expected = {"expert_kernel": g["grad_expert_kernel"], "expert_bias": g["grad_expert_bias"],
              "gate_kernel": np.stack([g["grad_gate_kernel_0"], g["grad_gate_kernel_1"]], axis=1),
              "gate_bias": np.stack([g["grad_gate_bias_0"], g["grad_gate_bias_1"]])}
  moe = grads["moe"]
  got = {"expert_kernel": moe["expert_kernel"], "expert_bias": moe["expert_bias"],
         "gate_kernel": moe["gate"]["kernel"], "gate_bias": moe["gate"]["bias"]}
  for key, ref in expected.items():
    np.testing.assert_allclose(got[key], ref, rtol=0, atol=1e-5 * np.abs(ref).max(), err_msg=key)


def _count(model, dim=100):
  shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((2, dim))))["params"]
  return sum(int(np.prod(s.shape)) for s in jax.tree.leaves(shapes))


def test_shared_bottom_has_omoes_parameter_count_and_mmoe_adds_one_gate_per_task():
  kw = dict(num_classes=2, num_experts=8, units=16, tower_hidden=8)
  omoe, mmoe = _count(MultiTaskNet(kind="omoe", **kw)), _count(MultiTaskNet(kind="mmoe", **kw))
  bottom = _count(MultiTaskNet(kind="shared_bottom", **kw))
  width = shared_bottom_units(100, units=16, num_experts=8, num_tasks=2, tower_hidden=8)
  assert abs(bottom - omoe) <= (100 + 1 + 2 * 8) / 2  # The nearest integer width.
  assert width == 120
  assert mmoe - omoe == 101 * 8  # One more gate: a [100, 8] kernel and 8 biases.


def test_gates_start_different_and_each_task_has_its_own_mixture():
  model = MultiTaskNet(kind="mmoe", num_classes=3, num_experts=4, units=5)
  x = jax.random.normal(jax.random.key(1), (6, 12))
  variables = model.init(jax.random.key(0), x)
  kernel = variables["params"]["moe"]["gate"]["kernel"]  # [d, tasks, experts]
  for a in range(3):
    for b in range(a + 1, 3):
      assert not np.allclose(kernel[:, a], kernel[:, b])
  _, aux = model.apply(variables, x)
  gates = aux["gates"]
  np.testing.assert_allclose(gates.sum(-1), 1.0, rtol=1e-6)
  assert not np.allclose(gates[:, 0], gates[:, 1])
  omoe = MultiTaskNet(kind="omoe", num_classes=3, num_experts=4, units=5)
  assert omoe.init(jax.random.key(0), x)["params"]["moe"]["gate"]["kernel"].shape == (12, 1, 4)


def test_unknown_kind_is_named():
  with pytest.raises(ValueError, match="model.kind must be one of"):
    MultiTaskNet(kind="moe").init(jax.random.key(0), jnp.zeros((1, 3)))
