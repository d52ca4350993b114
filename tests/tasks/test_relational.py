"""The Sort-of-CLEVR task: a step independent of the device count, accuracy per question kind from
summed counts, config errors."""

import dataclasses

import chex
import jax
import numpy as np
import optax
import pytest

from jaxtricks.data import load_digits
from jaxtricks.data.sort_of_clevr import sort_of_clevr_datasets
from jaxtricks.parallel import DataParallel
from jaxtricks.tasks import relational
from jaxtricks.tasks.base import Data
from jaxtricks.training.config import load_config
from tests.tasks.steps import TOPOLOGIES, run_steps


@pytest.fixture(scope="module")
def scenes():
  return Data(*sort_of_clevr_datasets(0, 32, 12))


@pytest.fixture(scope="module")
def task(scenes):
  return relational.from_config(load_config("sort_of_clevr_rn", "smoke"), scenes, runs=None)


def test_step_is_the_same_on_every_topology(task, scenes):
  # SGD: Adam's first steps are ±LR even for noise.
  task = dataclasses.replace(task, net=dataclasses.replace(task.net, tx=optax.sgd(0.05)))

  # One step: the next would start from ReLUs that rounding can flip among the 12,500 pair
  # activations per scene.
  run = lambda parallel, n: run_steps(task, scenes.train, parallel, n, steps=1, batch_size=16)

  start = jax.device_get(task.init(0)).variables
  update = lambda state: jax.tree.map(lambda a, b: a - b, state.variables, start)
  reference, ref_metrics = run("mesh", 1)
  for topology in TOPOLOGIES[:2] + TOPOLOGIES[3:]:
    state, metrics = run(*topology)
    # Within 0.1 % of the largest update: a conv or BN bias ahead of a BatchNorm has a gradient that
    # is a near-cancelling sum over the batch (0 in exact arithmetic for the last), so its float32
    # rounding, which depends on the shard size, is large relative to the bias's own update.
    scale = max(np.abs(leaf).max() for leaf in jax.tree.leaves(update(reference)))
    chex.assert_trees_all_close(update(state), update(reference), rtol=0, atol=1e-3 * scale)
    np.testing.assert_allclose(metrics["loss"], ref_metrics["loss"], rtol=1e-5)


def test_accuracy_per_kind_counts_every_question_once(task, scenes):
  state = task.init(1)
  parallel = DataParallel("mesh")
  evaluator, = task.evaluators(scenes.test, batch_size=8, parallel=parallel)  # 12 scenes: padding.
  metrics = evaluator.run(parallel.replicate(state))
  logits = np.asarray(task.infer(state, (scenes.test.images, scenes.test.extras["questions"])))
  hit = logits.argmax(-1) == scenes.test.extras["answers"]
  kinds = scenes.test.extras["kinds"]
  assert metrics["eval/accuracy_relational"] == pytest.approx(hit[kinds == 1].mean())
  assert metrics["eval/accuracy_nonrelational"] == pytest.approx(hit[kinds == 0].mean())
  assert metrics["eval/accuracy"] == pytest.approx(hit.mean())
  assert "eval/accuracy_ternary" not in metrics


def test_scenes_without_questions_are_rejected():
  config = load_config("sort_of_clevr_rn", "smoke")
  with pytest.raises(ValueError, match="needs scenes with questions"):
    relational.from_config(config, Data(*load_digits()), runs=None)
