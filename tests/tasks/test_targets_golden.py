"""The classification task's targets and loss (``tasks.Targets``) against GluonCV: label smoothing,
and mixup with the recorded λ, pairing across the devices of a parallel step."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxtricks.data import mix_with_reversed
from jaxtricks.parallel import AXIS
from jaxtricks.tasks import Targets
from tests.conftest import golden_cases, load_golden

_close = lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-5, atol=5e-6)  # README: MXNet noise.


@pytest.mark.parametrize("path", golden_cases("imbalance", "ls_ce_gluoncv_*.npz"))
def test_label_smoothed_targets_and_loss_match_gluoncv(path):
  g = load_golden(path)
  targets_of = Targets(num_classes=int(g["num_classes"]), label_smoothing=float(g["epsilon"]))
  _, targets = targets_of(jax.random.key(0), 0, jnp.zeros((len(g["labels"]), 1)), g["labels"])
  _close(targets, g["smoothed_labels"])
  loss = lambda logits: targets_of.loss(logits, targets, 0)
  _close(loss(g["logits"]), g["loss_mean"])
  _close(jax.grad(loss)(g["logits"]), g["grad_logits_of_mean"])


@pytest.mark.parametrize("path", golden_cases("imbalance", "mixup_gluoncv_*.npz"))
def test_mixup_over_8_devices_with_the_recorded_lambda_matches_gluoncv(path):
  """Example i of the global batch is mixed with example B−1−i, which lives on another device."""
  g = load_golden(path)
  num_classes, devices = int(g["num_classes"]), jax.local_device_count()
  targets_of = Targets(num_classes=num_classes, label_smoothing=float(g["eta"]))
  targets = np.asarray(targets_of(jax.random.key(0), 0, jnp.zeros((16, 1)), g["labels"])[1])
  shard = lambda x: x.reshape((devices, -1) + x.shape[1:])
  mix = jax.pmap(lambda x, t: mix_with_reversed(jnp.float32(g["lam"]), x, t, axis_name=AXIS),
                 axis_name=AXIS)
  images, mixed = (np.asarray(a).reshape((16,) + a.shape[2:]) for a in mix(shard(g["images"]),
                                                                             shard(targets)))
  _close(images, g["mixed_images"])
  _close(mixed, g["mixed_labels"])
  loss = lambda logits: targets_of.loss(logits, jnp.asarray(mixed), 0)
  _close(loss(g["logits"]), g["loss_mean"])
  _close(jax.grad(loss)(g["logits"]), g["grad_logits_of_mean"])
