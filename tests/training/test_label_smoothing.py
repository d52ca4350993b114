"""The recipe's label-smoothed loss (``optax.smooth_labels`` + softmax CE) against GluonCV."""

import jax
import numpy as np
import optax
import pytest

from tests.conftest import golden_cases, load_golden


@pytest.mark.parametrize("path", golden_cases("imbalance", "ls_ce_gluoncv_*.npz"))
def test_label_smoothed_cross_entropy_matches_gluoncv(path):
  g = load_golden(path)
  targets = optax.smooth_labels(jax.nn.one_hot(g["labels"], int(g["num_classes"])), float(g["epsilon"]))
  np.testing.assert_allclose(targets, g["smoothed_labels"], rtol=2e-5, atol=5e-6)
  loss = lambda logits: optax.softmax_cross_entropy(logits, targets)
  np.testing.assert_allclose(loss(g["logits"]), g["loss_per_example"], rtol=2e-5, atol=5e-6)
  np.testing.assert_allclose(loss(g["logits"]).mean(), g["loss_mean"], rtol=2e-5, atol=5e-6)
  grad = jax.grad(lambda x: loss(x).mean())(g["logits"])
  np.testing.assert_allclose(grad, g["grad_logits_of_mean"], rtol=2e-5, atol=5e-6)
