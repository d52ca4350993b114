"""A wrong shape at a public function is an error naming the argument, not a silent broadcast."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxtricks import losses
from jaxtricks.data import mixup
from jaxtricks.losses import infomax, label_augmentation, open_set

B, C, D = 4, 3, 5
LOGITS = jnp.zeros((B, C))
FEATURES = jnp.ones((B, D))
POINTS = jnp.ones((C, D))
LABELS = jnp.zeros((B,), jnp.int32)

CASES = {
    "kd_loss": (lambda: losses.kd_loss(LOGITS, jnp.zeros((B, C + 1)), temperature=2.0),
                "teacher_logits"),
    "kd_loss_batch": (lambda: losses.kd_loss(LOGITS, jnp.zeros((B - 1, C)), temperature=2.0),
                      "teacher_logits"),
    "distillation_cross_entropy": (
        lambda: losses.distillation_cross_entropy(LOGITS, jnp.zeros((1, C)), LABELS), "teacher_logits"),
    "soft_target_loss": (lambda: losses.soft_target_loss(LOGITS, jnp.zeros((B, C + 1))), "targets"),
    "soft_target_loss_labels": (lambda: losses.soft_target_loss(LOGITS, LABELS), "targets"),
    "reciprocal_distances": (lambda: open_set.reciprocal_distances(FEATURES, jnp.ones((C, D + 1))),
                             "points"),
    "rpl_loss_labels": (lambda: open_set.rpl_loss(FEATURES, LABELS[:2], POINTS, jnp.zeros(())), "labels"),
    "rpl_loss_float_labels": (
        lambda: open_set.rpl_loss(FEATURES, jnp.zeros((B,)), POINTS, jnp.zeros(())), "labels"),
    "arpl_loss_labels": (lambda: open_set.arpl_loss(FEATURES, LABELS[:, None], POINTS, jnp.zeros(())),
                         "labels"),
    "label_augment": (lambda: label_augmentation.label_augment(jnp.zeros((B, 8, 8, 3)), LABELS[:2],
                                                               "rotation"), "labels"),
    "sla_loss": (lambda: label_augmentation.sla_loss(jnp.zeros((8, 12)), jnp.zeros((4,), jnp.int32)),
                 "joint_labels"),
    "aggregated_logits": (lambda: label_augmentation.aggregated_logits(jnp.zeros((8, 10)), 4),
                          "joint_logits"),
    "batch_hard_triplet_loss": (lambda: losses.batch_hard_triplet_loss(FEATURES, LABELS[:3]), "labels"),
    "dim_scores": (lambda: infomax.dim_scores(jnp.zeros((B, D, 9)), jnp.zeros((B, D + 1, 1))),
                   "global_"),
    "mixup": (lambda: mixup(jax.random.key(0), jnp.zeros((B, 8, 8, 1)), jnp.zeros((B - 1, C)), alpha=0.2),
              "targets"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_wrong_shape_names_the_argument(name):
  call, argument = CASES[name]
  with pytest.raises((AssertionError, ValueError, TypeError)) as info:
    call()
  assert argument in str(info.value), str(info.value)


def test_right_shapes_pass():
  """The checks accept what the docstrings promise."""
  assert losses.kd_loss(LOGITS, LOGITS, temperature=2.0).shape == (B,)
  assert open_set.rpl_loss(FEATURES, LABELS, POINTS, jnp.zeros(())).shape == (B,)
  assert open_set.rpl_loss(FEATURES, LABELS, jnp.ones((2 * C, D)), jnp.zeros(()), num_centers=2).shape == (B,)
  assert label_augmentation.aggregated_logits(jnp.zeros((8, 12)), 4).shape == (2, 3)
  assert np.isfinite(float(infomax.fenchel_dual_loss(jnp.zeros((B, D, 9)), jnp.zeros((B, D, 1)))))
