"""The multi-task family: per-head losses and weights, AUC equal to scikit-learn's, config errors."""

import jax
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from jaxtricks.data.synthetic import mmoe_datasets
from jaxtricks.parallel import DataParallel
from jaxtricks.tasks import multitask
from jaxtricks.tasks.base import Data, step_keys
from jaxtricks.training.config import load_config


@pytest.fixture(scope="module")
def data():
  return Data(*mmoe_datasets(1, 0.5, num_train=256, num_test=100, binary=True))


def _config(**multitask_options):
  c = load_config("synthetic_mmoe", "smoke")
  c.dataset.binarize = True
  c.multitask.update({"heads": ("binary", "regression"), **multitask_options})
  return c


def test_loss_is_the_weighted_sum_of_the_heads(data):
  batch = data.train.fields(np.arange(32))
  losses = {}
  for weights in ((1.0, 1.0), (2.0, 0.0), (0.0, 3.0)):
    task = multitask.from_config(_config(weights=weights), data, runs=None)
    state = task.init(0)
    loss_fn = lambda p: jax.vmap(task.loss, (None, None, 0, None), axis_name="batch")(
        p, state, jax.tree.map(lambda a: a[None], batch), step_keys(state))
    loss, (_, metrics) = loss_fn(state.params)
    losses[weights] = (float(loss[0]), float(metrics["binary_0_loss"][0]),
                       float(metrics["regression_1_loss"][0]))
  _, bce, mse = losses[(1.0, 1.0)]
  outputs = task.infer(state, batch["image"])
  targets = batch["targets"]
  expected_bce = np.mean(np.logaddexp(0, outputs[:, 0]) - targets[:, 0] * outputs[:, 0])
  np.testing.assert_allclose(bce, expected_bce, rtol=1e-5)
  np.testing.assert_allclose(mse, np.mean((outputs[:, 1] - targets[:, 1]) ** 2), rtol=1e-5)
  np.testing.assert_allclose(losses[(1.0, 1.0)][0], bce + mse, rtol=1e-6)
  np.testing.assert_allclose(losses[(2.0, 0.0)][0], 2 * bce, rtol=1e-6)
  np.testing.assert_allclose(losses[(0.0, 3.0)][0], 3 * mse, rtol=1e-6)


def test_auc_and_losses_match_scikit_learn_on_the_whole_test_split(data):
  config = _config()
  task = multitask.from_config(config, data, runs=None)
  state = task.init(3)
  parallel = DataParallel("mesh")
  evaluator, = task.evaluators(data.test, batch_size=64, parallel=parallel)  # 100 rows: a padded batch.
  metrics = evaluator.run(parallel.replicate(state))
  outputs = np.asarray(task.infer(state, data.test.images))
  targets = data.test.extras["targets"]
  assert metrics["eval/auc_0"] == pytest.approx(roc_auc_score(targets[:, 0], outputs[:, 0]), abs=1e-7)
  assert metrics["eval/mse_1"] == pytest.approx(np.mean((outputs[:, 1] - targets[:, 1]) ** 2), rel=1e-5)
  assert "eval/auc_1" not in metrics and "eval/mse_0" not in metrics


@pytest.mark.parametrize("options, match", [
    (dict(heads=("binary", "ranking")), "multitask.heads must hold values of"),
    (dict(weights=(1.0,)), "multitask.weights must have one value per head"),
    (dict(heads=("binary",)), r"needs data with targets \[N, 1\]"),
])
def test_bad_options_are_named(data, options, match):
  with pytest.raises(ValueError, match=match):
    multitask.from_config(_config(**options), data, runs=None)


def test_binary_head_needs_binary_targets():
  regression = Data(*mmoe_datasets(1, 0.5, num_train=64, num_test=10))
  with pytest.raises(ValueError, match=r"heads\[0\]='binary' needs 0/1 targets"):
    multitask.from_config(_config(), regression, runs=None)


def test_head_losses_reject_shapes_that_would_broadcast():
  outputs = np.zeros((4, 2), np.float32)
  with pytest.raises(AssertionError, match="targets must have the outputs' shape"):
    multitask.head_losses(outputs, np.zeros(4, np.float32), ("regression", "regression"))
  with pytest.raises(AssertionError, match=r"outputs must be \[B, heads=3\]"):
    multitask.head_losses(outputs, outputs, ("regression",) * 3)
