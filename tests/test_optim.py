import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxtricks.optim import create_optimizer, decay_mask, learning_rate_schedule, warmup_step_schedule
from jaxtricks.training import base_config
from tests.conftest import golden_cases, load_golden


def _optim_config(g):
  c = base_config().optim
  c.lr = float(g["base_lr"])
  c.reference_batch = 1  # The tables give the final LR; no batch scaling here.
  c.schedule = "cosine" if "cosine" in g["_name"] else "step"
  c.warmup_epochs = float(g["warmup_epochs"])
  c.decay_epochs = tuple(int(e) for e in g["lr_decay_epoch"])
  c.decay_factor = float(g["lr_decay"])
  return c


@pytest.mark.parametrize("path", golden_cases("imbalance", "lr_gluoncv_*.npz"))
def test_schedule_matches_gluoncv(path):
  g = {**load_golden(path), "_name": path.stem}
  with jax.enable_x64(True):
    schedule = learning_rate_schedule(_optim_config(g), steps_per_epoch=int(g["iters_per_epoch"]),
                                      num_epochs=int(g["num_epochs"]), global_batch=1)
    u = np.arange(len(g["lr_at_num_update"]))
    np.testing.assert_allclose(schedule(u), g["lr_at_num_update"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(schedule(g["num_update_at_step"].astype(np.int64)), g["lr_applied_at_step"],
                               rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("path", golden_cases("imbalance", "lr_gluoncv_*.npz"))
def test_optimizer_applies_the_gluoncv_lr_at_each_step(path):
  g = {**load_golden(path), "_name": path.stem}
  c = _optim_config(g)
  c.momentum, c.weight_decay = 0.0, 0.0
  schedule = learning_rate_schedule(c, steps_per_epoch=int(g["iters_per_epoch"]),
                                    num_epochs=int(g["num_epochs"]), global_batch=1)
  tx = create_optimizer(c, schedule)
  params = {"w": jnp.zeros(())}
  state = tx.init(params)
  applied = []
  for _ in range(len(g["lr_applied_at_step"])):  # Gradient 1: the update is −lr.
    updates, state = tx.update({"w": jnp.ones(())}, state, params)
    applied.append(-float(updates["w"]))
  np.testing.assert_allclose(applied, g["lr_applied_at_step"], rtol=1e-5, atol=1e-7)


def test_step_schedule_decays_at_epoch_boundaries_counted_from_start():
  schedule = warmup_step_schedule(1.0, warmup_steps=10, decay_steps=[30, 50], decay_factor=0.1)
  np.testing.assert_allclose([schedule(u) for u in (5, 10, 29, 30, 49, 50, 99)],
                             [5 / 9, 1, 1, 0.1, 0.1, 0.01, 0.01], rtol=1e-6)


def test_linear_scaling_rule():
  c = base_config().optim
  c.lr, c.reference_batch, c.schedule = 0.1, 256, "constant"
  assert learning_rate_schedule(c, steps_per_epoch=1, num_epochs=1, global_batch=1024)(0) == \
      pytest.approx(0.4)


def test_no_bias_decay_mask_excludes_biases_and_batchnorm():
  params = {"conv": {"kernel": jnp.ones((3, 3, 1, 2))}, "bn": {"scale": jnp.ones(2), "bias": jnp.ones(2)},
            "dense": {"kernel": jnp.ones((2, 2)), "bias": jnp.ones(2)}}
  mask = decay_mask(params, no_bias_decay=True)
  assert mask == {"conv": {"kernel": True}, "bn": {"scale": False, "bias": False},
                  "dense": {"kernel": True, "bias": False}}
  assert all(jax.tree.leaves(decay_mask(params, no_bias_decay=False)))
  c = base_config().optim
  c.schedule, c.lr, c.reference_batch, c.momentum, c.weight_decay, c.no_bias_decay = \
      "constant", 1.0, 1, 0.0, 0.5, True
  tx = create_optimizer(c, learning_rate_schedule(c, steps_per_epoch=1, num_epochs=1, global_batch=1))
  zero = jax.tree.map(jnp.zeros_like, params)
  updates, _ = tx.update(zero, tx.init(params), params)
  assert float(updates["conv"]["kernel"][0, 0, 0, 0]) == pytest.approx(-0.5)
  assert float(updates["bn"]["scale"][0]) == 0.0 and float(updates["dense"]["bias"][0]) == 0.0


@pytest.mark.parametrize("field, value, match", [
    ("name", "lamb", "optim.name must be one of"),
    ("schedule", "poly", "optim.schedule must be one of"),
])
def test_bad_optimizer_config(field, value, match):
  c = base_config().optim
  c[field] = value
  with pytest.raises(ValueError, match=match):
    create_optimizer(c, learning_rate_schedule(c, steps_per_epoch=1, num_epochs=1, global_batch=1))
