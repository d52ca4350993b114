"""A step's result does not depend on how it is run: the mesh over 8, 2 and 1 devices and pmap over 8
give the same parameters, BatchNorm statistics and metrics, also when the second step resumes from a
checkpoint written by another topology."""

import dataclasses

import chex
import jax
import numpy as np
import pytest

from jaxtricks.data import load_digits
from jaxtricks.imbalance import M2mTranslation
from jaxtricks.tasks import TASKS
from jaxtricks.tasks.base import Data
from jaxtricks.training.config import load_config
from tests.conftest import REPO
from tests.tasks.steps import run_on_every_topology, run_steps


def _config(name: str):
  config = load_config(REPO / "configs" / f"{name}.py", "smoke")
  if name == "digits_student":  # Every per-example draw of the classification step.
    config.model.cnn.dropout_rate = 0.3
    config.augment.update(crop_padding=2, flip=True)
    config.train.update(label_smoothing=0.1, mixup_alpha=0.4)
  if name == "digits_metric_teacher":  # Triplets mined over the global batch.
    config.model.update(name="cnn", embedding_dim=16)
    config.model.cnn.update(width=4, l2_normalize=True)
  return config


@pytest.fixture(scope="module")
def digits():
  assert jax.local_device_count() == 8, "tests/conftest.py must give JAX 8 CPU devices"
  return load_digits()


_run = run_steps


def _assert_same(runs, reference, ref_metrics):
  for topology, (state, metrics) in runs:
    assert int(state.step) == int(reference.step)
    chex.assert_trees_all_close(state.variables, reference.variables, atol=1e-5, rtol=1e-5,
                                custom_message=str(topology))
    for key in ref_metrics:
      np.testing.assert_allclose(metrics[key], ref_metrics[key], rtol=1e-5, atol=1e-5,
                                 err_msg=f"{topology} {key}")


@pytest.mark.parametrize("name", ["digits_student", "digits_metric_teacher", "digits_dim"])
def test_step_is_the_same_on_every_topology(digits, name, tmp_path):
  config = _config(name)
  if name == "digits_student":  # RandAugment and adversarial training too (on [0, 1] pixels).
    config.dataset.standardize = False
    config.augment.randaugment_ops = 2
    config.adv_train.update(epsilon=0.5, step_size=0.2, steps=2, norm="l2")
  train, test = digits
  if name == "digits_metric_teacher":
    train, test = train.select_classes(range(5)), test.select_classes(range(5, 10))
  task = TASKS[config.task].from_config(config, Data(train, test), runs=None)
  reference, ref_metrics = _run(task, train, "mesh", 1)
  _assert_same(run_on_every_topology(task, train, tmp_path), reference, ref_metrics)


@pytest.fixture(scope="module")
def classification(digits):
  config = _config("digits_student")
  config.train.mixup_alpha = 0.0
  config.model.cnn.dropout_rate = 0.0
  return config, TASKS["classification"].from_config(config, Data(*digits), runs=None)


def _first_loss(task, train):
  return _run(task, train, steps=1)[1]["loss"]


def test_mixup_switches_off_at_mixup_off_step(classification, digits):
  _, task = classification
  targets = task.targets
  no_mixup = _first_loss(task, digits[0])
  mixup_off_at = lambda step: dataclasses.replace(
      task, targets=dataclasses.replace(targets, mixup_alpha=0.2, mixup_off_step=step))
  off_now, off_later = mixup_off_at(0), mixup_off_at(1)
  np.testing.assert_allclose(_first_loss(off_now, digits[0]), no_mixup, rtol=1e-6)
  assert not np.allclose(_first_loss(off_later, digits[0]), no_mixup)


def test_deferred_reweighting_switches_class_weights_on_at_its_step(classification, digits):
  _, task = classification
  weights = tuple(np.linspace(0.2, 1.8, 10))
  plain = _first_loss(task, digits[0])
  later = dataclasses.replace(task.targets, class_weights=weights, reweight_from_step=1)
  now = dataclasses.replace(task.targets, class_weights=weights)
  np.testing.assert_allclose(_first_loss(dataclasses.replace(task, targets=later), digits[0]), plain,
                             rtol=1e-6)
  assert not np.allclose(_first_loss(dataclasses.replace(task, targets=now), digits[0]), plain)


def test_logit_adjustment_trains_on_the_prior_shifted_logits(classification, digits):
  """``loss.logit_adjustment`` reaches the step with the training split's class counts; only softmax
  losses take it."""
  config, task = classification
  config = config.copy_and_resolve_references()
  config.loss.logit_adjustment = 1.0
  adjusted = TASKS["classification"].from_config(config, Data(*digits), runs=None)
  assert adjusted.targets.class_counts == tuple(digits[0].class_counts().tolist())
  assert adjusted.targets.logit_adjustment == 1.0
  assert not np.allclose(_first_loss(adjusted, digits[0]), _first_loss(task, digits[0]))
  config.loss.type = "sigmoid"
  with pytest.raises(ValueError, match="loss.logit_adjustment needs a softmax loss.type"):
    TASKS["classification"].from_config(config, Data(*digits), runs=None)


def test_m2m_step_is_the_same_on_every_topology(digits, tmp_path):
  """M2m draws its seeds from the global batch and keys every slot by its global position."""
  config = _config("digits_student")
  train, test = digits
  keep = np.concatenate([np.flatnonzero(train.labels == c)[:max(8, 120 - 12 * c)] for c in range(10)])
  train = train.subset(np.sort(keep))
  task = TASKS["classification"].from_config(config, Data(train, test), runs=None)
  generator = task.init(1).variables
  task = dataclasses.replace(task, frozen={"generator": generator}, m2m=M2mTranslation(
      samples_per_class=tuple(int(n) for n in train.class_counts()), steps=2, threshold=0.0,
      beta=0.9, data_range=(0.0, 1.0)))
  reference, ref_metrics = _run(task, train, "mesh", 1)
  assert ref_metrics["m2m_accepted"] > 0.1
  _assert_same(run_on_every_topology(task, train, tmp_path), reference, ref_metrics)
