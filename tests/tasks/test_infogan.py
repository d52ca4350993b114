"""InfoGAN's two-player step: independent of the device count, λ reaches Q only through the MI term,
each player moves, and a resumed run equals an uninterrupted one."""

import dataclasses

import chex
import jax
import ml_collections
import numpy as np
import optax
import pytest

from jaxtricks.data import TrainBatches, load_digits
from jaxtricks.losses.infogan import generator_loss, mutual_information
from jaxtricks.tasks import infogan
from jaxtricks.tasks.base import Data, step_keys
from jaxtricks.training import fit
from jaxtricks.training.config import load_config
from tests.conftest import crash_at
from tests.tasks.steps import run_on_every_topology, run_steps


def _config(**infogan_options):
  c = load_config("digits_infogan", "smoke")
  c.progress = False
  c.infogan.update(infogan_options)
  c.infogan.classifier = ml_collections.ConfigDict()  # No generated-sample evaluator.
  return c


@pytest.fixture(scope="module")
def digits():
  return Data(*load_digits())


_run = run_steps


def test_step_is_the_same_on_every_topology(digits, tmp_path):
  # SGD: Adam's first steps are ±LR for any gradient, so they turn the rounding noise of a near-zero
  # gradient entry into full-size differences; SGD keeps what the step computes comparable.
  task = dataclasses.replace(infogan.from_config(_config(), digits, runs=None),
                             txs={p: optax.sgd(0.1) for p in infogan.PLAYERS})
  reference, ref_metrics = _run(task, digits.train)
  for topology, (state, metrics) in run_on_every_topology(task, digits.train, tmp_path):
    chex.assert_trees_all_close((state.params, state.batch_stats),
                                (reference.params, reference.batch_stats), atol=1e-5, rtol=1e-5,
                                custom_message=str(topology))
    for key in ref_metrics:
      np.testing.assert_allclose(metrics[key], ref_metrics[key], rtol=1e-5, atol=1e-5,
                                 err_msg=f"{topology} {key}")


def _q_head(params):  # The Q head: the last two dense layers of the discriminator.
  return {k: v for k, v in params["discriminator"].items() if k in ("Dense_2", "Dense_3")}


@pytest.mark.parametrize("info_weight", [0.0, 1.0])
def test_q_head_learns_only_with_the_information_term(digits, info_weight):
  task = infogan.from_config(_config(info_weight=info_weight), digits, runs=None)
  start = jax.device_get(task.init(0))
  state, metrics = _run(task, digits.train, steps=1)
  moved = lambda a, b: not all(np.allclose(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
  assert moved(state.params["generator"], start.params["generator"])
  assert moved(state.params["discriminator"]["Dense_0"], start.params["discriminator"]["Dense_0"])
  assert moved(_q_head(state.params), _q_head(start.params)) == bool(info_weight)
  assert _q_head(start.params)["Dense_3"]["kernel"].shape[-1] == 14  # 10 logits + 2 × (mean, log-var).
  # λ enters the losses linearly: L = GAN part − λ·MI.
  gan_part = metrics["d_loss"] + info_weight * metrics["mi"]
  assert np.isfinite(gan_part) and 0.0 < metrics["real_d"] < 1.0


def test_resumed_run_equals_an_uninterrupted_one(tmp_path, digits):
  config = _config()
  config.checkpoint_every_steps = 9
  config.train.num_epochs = 2
  with crash_at(12), pytest.raises(RuntimeError, match="simulated crash"):  # After the step-9 checkpoint.
    fit(config, tmp_path / "resumed", datasets=digits)
  _, resumed = fit(config, tmp_path / "resumed", datasets=digits)
  _, straight = fit(config, tmp_path / "straight", datasets=digits)
  chex.assert_trees_all_close(jax.device_get(resumed.params), jax.device_get(straight.params),
                              atol=1e-6, rtol=1e-6)
  chex.assert_trees_all_close(jax.device_get(resumed.opt_state), jax.device_get(straight.opt_state),
                              atol=1e-6, rtol=1e-6)


def test_standardized_pixels_are_rejected(digits):
  config = _config()
  config.dataset.standardize = True
  with pytest.raises(ValueError, match="dataset.standardize=False"):
    infogan.from_config(config, digits, runs=None)


def test_generator_step_draws_a_fresh_latent_and_uses_the_updated_discriminator(digits):
  task = infogan.from_config(_config(), digits, runs=None)
  start = jax.device_get(task.init(0))
  state, metrics = _run(task, digits.train, steps=1)
  batch = TrainBatches(digits.train, 64, seed=0).batch(0)
  keys = step_keys(start)
  d_key, g_key = keys.latent, keys.latent_generator

  def g_loss_on_one_device(d_params, latent_key):
    z, category, cont = task.sample_latent(latent_key, 64)
    fake, _ = task.generator.apply({"params": start.params["generator"],
                                    "batch_stats": start.batch_stats["generator"]}, z, train=True,
                                   mutable=["batch_stats"])
    (fake_d, q), _ = task.discriminator.apply(
        {"params": d_params, "batch_stats": state.batch_stats["discriminator"]}, fake, train=True,
        mutable=["batch_stats"])
    mi = mutual_information(q, jax.nn.one_hot(category, 10), cont)["mi_est"]
    return generator_loss(fake_d, mi, 1.0)

  def g_loss(d_params, latent_key):  # On a one-device axis, as the step runs (BN's batch axis).
    return float(jax.vmap(lambda _: g_loss_on_one_device(d_params, latent_key), axis_name="batch")(
        np.zeros(1))[0])

  assert batch["image"].shape[0] == 64
  np.testing.assert_allclose(g_loss(state.params["discriminator"], g_key), metrics["g_loss"], rtol=1e-5)
  assert not np.isclose(g_loss(start.params["discriminator"], g_key), metrics["g_loss"], rtol=1e-4)
  assert not np.isclose(g_loss(state.params["discriminator"], d_key), metrics["g_loss"], rtol=1e-4)
