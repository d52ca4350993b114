"""pmap over 8 (fake CPU) devices and jit on one device run the same per-device step to the same result."""

import functools

import jax
import numpy as np
import pytest

from jaxtricks.data import TrainBatches, load_digits
from jaxtricks.models import create_model
from jaxtricks.training import (Recipe, base_config, create_optimizer, create_train_state,
                                learning_rate_schedule, parallelize, train_step)
from jaxtricks.training.steps import place_state


@pytest.fixture(scope="module")
def setup():
  assert jax.local_device_count() == 8, "tests/conftest.py must give JAX 8 CPU devices"
  c = base_config()
  c.model.depth, c.model.width, c.model.variant, c.model.zero_gamma = 8, 8, "d", True
  c.optim.nesterov, c.optim.no_bias_decay, c.optim.schedule, c.optim.warmup_epochs = True, True, "cosine", 1
  train, _ = load_digits()
  model = create_model(c.model, num_classes=10, dtype=jax.numpy.float32)
  schedule = learning_rate_schedule(c.optim, steps_per_epoch=4, num_epochs=3, global_batch=64)
  tx = create_optimizer(c.optim, schedule)
  state = create_train_state(model, tx, train.images[:1], seed=0)
  step = functools.partial(train_step, model=model, tx=tx, schedule=schedule,
                           recipe=Recipe(num_classes=10, label_smoothing=0.1))
  return train, state, step


def _run(setup, parallel, num_devices, steps):
  train, state, step = setup
  batches = TrainBatches(train, 64, seed=0, num_devices=num_devices)
  p_step = parallelize(step, parallel)
  state = place_state(state, parallel)
  for s in range(steps):
    state, metrics = p_step(state, batches.batch(s))
  return jax.device_get(state), jax.device_get(metrics)


@pytest.mark.parametrize("steps", [1, 3])
def test_pmap_over_8_devices_equals_jit_on_one(setup, steps):
  pmapped, m_p = _run(setup, "pmap", 8, steps)
  jitted, m_j = _run(setup, "jit", 1, steps)
  assert int(pmapped.step) == int(jitted.step) == steps
  for name, a, b in (("params", pmapped.params, jitted.params),
                     ("batch_stats", pmapped.batch_stats, jitted.batch_stats)):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
      np.testing.assert_allclose(x, y, atol=1e-5, rtol=1e-5, err_msg=name)
  np.testing.assert_allclose(m_p["loss"], m_j["loss"], rtol=1e-5)


def test_mixup_switches_off_at_mixup_off_step(setup):
  train, state, step = setup
  batch = TrainBatches(train, 64, seed=0, num_devices=1).batch(0)
  run = lambda recipe: parallelize(functools.partial(step, recipe=recipe), "jit")(
      place_state(state, "jit"), batch)[1]["loss"]
  no_mixup = run(Recipe(num_classes=10))
  np.testing.assert_allclose(run(Recipe(num_classes=10, mixup_alpha=0.2, mixup_off_step=0)), no_mixup,
                             rtol=1e-6)
  assert not np.allclose(run(Recipe(num_classes=10, mixup_alpha=0.2, mixup_off_step=1)), no_mixup)


def test_deferred_reweighting_switches_class_weights_on_at_its_step(setup):
  train, state, step = setup
  batch = TrainBatches(train, 64, seed=0, num_devices=1).batch(0)
  run = lambda recipe: parallelize(functools.partial(step, recipe=recipe), "jit")(
      place_state(state, "jit"), batch)[1]["loss"]
  weights = tuple(np.linspace(0.2, 1.8, 10))
  plain = run(Recipe(num_classes=10))
  np.testing.assert_allclose(run(Recipe(num_classes=10, class_weights=weights, reweight_from_step=1)),
                             plain, rtol=1e-6)
  assert not np.allclose(run(Recipe(num_classes=10, class_weights=weights)), plain)
