"""GoogLeNet with auxiliary classifiers: torchvision's adaptive pool and parameter counts (golden),
the training loss with the heads, and heads absent at inference."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxtricks.data import load_digits
from jaxtricks.losses import auxiliary_classifier_loss
from jaxtricks.models.inception import GoogLeNet, adaptive_avg_pool
from jaxtricks.parallel import AXIS
from jaxtricks.tasks import TASKS
from jaxtricks.tasks.base import Data, step_keys
from jaxtricks.training.config import load_config
from tests.conftest import golden_cases, load_golden
from tests.tasks.steps import run_steps


def _param_count(tree) -> int:
  return int(sum(np.prod(x.shape) for x in jax.tree.leaves(tree)))


@pytest.fixture(scope="module")
def shapes():
  return load_golden(golden_cases("data_efficient", "googlenet_aux_shapes.npz")[0].values[0])


def test_adaptive_pool_matches_torch(shapes):
  for size in (14, 7, 2):
    x = np.transpose(shapes[f"pool_in_{size}"], (0, 2, 3, 1))
    out = np.transpose(np.asarray(adaptive_avg_pool(jnp.asarray(x), 4)), (0, 3, 1, 2))
    np.testing.assert_allclose(out, shapes[f"pool_out_{size}"], atol=1e-6, rtol=0)


def test_architecture_matches_torchvision(shapes):
  """At width 1 with the ImageNet stem: torchvision's parameter counts (main network and each head)
  and tensor shapes, from shapes alone (nothing is computed)."""
  meta = json.loads(str(shapes["meta"]))["shapes"]
  for key in ("res224_c1000", "res224_c10"):
    ref = meta[key]
    c = ref["aux1.fc2.out"][1]
    net = GoogLeNet(num_classes=c, stem="imagenet")
    x = jnp.zeros((2, 224, 224, 3))
    variables = jax.eval_shape(lambda: net.init(jax.random.key(0), x, train=False))
    params = variables["params"]
    assert _param_count(params) == ref["total_params_with_aux"]
    assert _param_count(params["aux_head1"]) == ref["aux1_params"]
    assert _param_count(params["aux_head2"]) == ref["aux2_params"]
    (out, aux), _ = jax.eval_shape(lambda v: net.apply(
        v, x, train=True, rngs={"dropout": jax.random.key(1)}, mutable=["batch_stats"]), variables)
    assert out.shape == tuple(ref["eval_output_shape"])
    aux1, aux2 = aux["aux_logits"]
    assert aux1.shape == tuple(ref["aux1.fc2.out"]) and aux2.shape == tuple(ref["aux2.fc2.out"])
    assert jax.eval_shape(lambda v: net.apply(v, x, train=False), variables)[0].shape == out.shape


@pytest.mark.parametrize("path", golden_cases("data_efficient", "googlenet_aux_loss_*.npz"))
def test_auxiliary_loss(path):
  case = load_golden(path)
  meta = json.loads(str(case["meta"]))
  per_example = auxiliary_classifier_loss(case["logits_main"], (case["logits_aux1"], case["logits_aux2"]),
                                          case["labels"], aux_weight=meta["aux_weight"])
  np.testing.assert_allclose(per_example.mean(), case["loss_train"], rtol=1e-5)
  np.testing.assert_allclose(per_example.mean(), meta["loss_train_float64"], rtol=1e-5)
  main = auxiliary_classifier_loss(case["logits_main"], (), case["labels"])
  np.testing.assert_allclose(main, case["ce_main_per_example"], rtol=1e-5)
  np.testing.assert_allclose(main.mean(), case["loss_eval"], rtol=1e-5)


def test_heads_train_only_and_exist_from_init():
  net = GoogLeNet(num_classes=5, width=0.0625)
  x = jax.random.normal(jax.random.key(0), (4, 8, 8, 1))
  variables = jax.eval_shape(lambda: net.init(jax.random.key(1), x, train=False))
  assert {"aux_head1", "aux_head2"} <= set(variables["params"])
  _, aux = jax.eval_shape(lambda v: net.apply(v, x, train=False), variables)
  assert set(aux) == {"embedding"}
  (_, aux), _ = jax.eval_shape(lambda v: net.apply(v, x, train=True, rngs={"dropout": jax.random.key(2)},
                                                   mutable=["batch_stats"]), variables)
  assert [a.shape for a in aux["aux_logits"]] == [(4, 5), (4, 5)]
  plain = GoogLeNet(num_classes=5, width=0.0625, aux_logits=False)
  assert "aux_head1" not in jax.eval_shape(lambda: plain.init(jax.random.key(1), x, train=False))["params"]


def test_classification_adds_the_weighted_auxiliary_losses():
  """``task_loss = CE(main) + w·(CE(aux1) + CE(aux2))`` for the configured ``w``."""
  config = load_config("digits_googlenet", "smoke")
  task = TASKS["classification"].from_config(config, Data(*load_digits()), runs=None)
  state = task.init(0)
  batch = {k: v[None, :len(v) // 8] for k, v in task.batches.batch(0).items()}  # one device of 8
  batch = {**batch, "targets": jax.nn.one_hot(batch["label"], 10)}
  keys = step_keys(state)

  def loss(t):
    fn = jax.vmap(lambda b: t.loss(state.params, state, b, keys), axis_name=AXIS)
    total, (_, m) = jax.jit(fn)(batch)
    return total[0], jax.tree.map(lambda v: v[0], m)

  total, m = loss(task)
  assert task.aux_weight == 0.3 and m["aux_loss"] > 0
  for weight in (0.0, 1.0):
    other, _ = loss(dataclasses.replace(task, aux_weight=weight))
    np.testing.assert_allclose(total - other, (0.3 - weight) * m["aux_loss"], rtol=1e-4)


class RenamedAuxiliaryOutput(GoogLeNet):
  """A GoogLeNet whose auxiliary logits come back under another name."""

  def __call__(self, x, *, train):
    logits, aux = super().__call__(x, train=train)
    return logits, {("side_logits" if k == "aux_logits" else k): v for k, v in aux.items()}


@pytest.mark.parametrize("change", ["renamed", "removed"])
def test_an_auxiliary_weight_without_auxiliary_outputs_fails_naming_them(change):
  """``loss.aux_weight > 0`` with a model that returns no ``aux_logits`` stops with an error naming
  the missing output (it does not train on the main loss alone)."""
  config = load_config("digits_googlenet", "smoke")
  task = TASKS["classification"].from_config(config, Data(*load_digits()), runs=None)
  model = task.model
  if change == "renamed":
    model = RenamedAuxiliaryOutput(**{f.name: getattr(model, f.name) for f in dataclasses.fields(GoogLeNet)
                                      if f.name not in ("parent", "name")})
  else:
    model = model.clone(aux_logits=False)
  task = dataclasses.replace(task, net=dataclasses.replace(task.net, model=model))
  with pytest.raises(ValueError, match="loss.aux_weight=0.3 needs the model output 'aux_logits'"):
    run_steps(task, task.batches.dataset, steps=1)
