"""Every pure loss, metric and augmentation gives the same result eagerly, under jit and under pmap
(chex.variants): no Python-side branching on traced values, no host round trips."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
from absl.testing import parameterized

from jaxtricks.adversarial import fgsm
from jaxtricks.data import mixup, random_crop_flip
from jaxtricks.losses import (batch_hard_triplet_loss, class_balanced_loss, distillation_cross_entropy,
                              kd_loss, ldam_loss, rkd_angle_loss, rkd_distance_loss, soft_target_loss,
                              softmax_focal_loss)
from jaxtricks.losses.infomax import donsker_varadhan_loss, fenchel_dual_loss, infonce_loss
from jaxtricks.losses.label_augmentation import label_augment, sla_loss
from jaxtricks.losses.open_set import arpl_loss, rpl_loss
from jaxtricks.metrics import per_class_counts

_R = np.random.default_rng(0)
LOGITS = (_R.normal(size=(8, 5)) * 3).astype(np.float32)
LABELS = np.array([0, 1, 2, 3, 4, 0, 2, 4], np.int32)
TEACHER = (_R.normal(size=(8, 5)) * 3).astype(np.float32)
EMB = _R.normal(size=(8, 6)).astype(np.float32)
POINTS = _R.normal(size=(10, 6)).astype(np.float32)
IMAGES = _R.normal(size=(8, 6, 6, 3)).astype(np.float32)
LOCAL, GLOBAL = _R.normal(size=(4, 7, 9)).astype(np.float32), _R.normal(size=(4, 7, 1)).astype(np.float32)
COUNTS = (50, 20, 10, 5, 2)

CASES = [
    ("class_balanced_focal", functools.partial(class_balanced_loss, samples_per_class=COUNTS, beta=0.99,
                                               loss_type="focal", gamma=1.0), (LOGITS, LABELS)),
    ("soft_target_sigmoid", functools.partial(soft_target_loss, loss_type="sigmoid"),
     (LOGITS, jax.nn.softmax(TEACHER))),
    ("softmax_focal", functools.partial(softmax_focal_loss, gamma=2.0), (LOGITS, LABELS)),
    ("ldam", functools.partial(ldam_loss, samples_per_class=COUNTS), (LOGITS / 10, LABELS)),
    ("kd", functools.partial(kd_loss, temperature=4.0), (LOGITS, TEACHER)),
    ("distillation_cross_entropy", functools.partial(distillation_cross_entropy, temperature=2.0,
                                                     hard_weight=0.5), (LOGITS, TEACHER, LABELS)),
    ("rkd_distance", rkd_distance_loss, (EMB, EMB[::-1])),
    ("rkd_angle", rkd_angle_loss, (EMB, EMB[::-1])),
    ("triplet", batch_hard_triplet_loss, (EMB, LABELS)),
    ("rpl", functools.partial(rpl_loss, num_centers=2), (EMB, LABELS, POINTS, np.float32(0.3))),
    ("arpl", arpl_loss, (EMB, LABELS, POINTS[:5], np.float32(0.3))),
    ("dim_jsd", fenchel_dual_loss, (LOCAL, GLOBAL)),
    ("dim_nce", infonce_loss, (LOCAL, GLOBAL)),
    ("dim_dv", donsker_varadhan_loss, (LOCAL, GLOBAL)),
    ("sla", lambda x, y: sla_loss(x.reshape(-1, 5).repeat(4, 0) @ np.ones((5, 20), np.float32),
                                  label_augment(IMAGES, y, "rotation")[1]), (LOGITS, LABELS)),
    ("per_class_counts", functools.partial(per_class_counts, num_classes=5), (LOGITS, LABELS)),
    ("mixup", lambda x, t: mixup(jax.random.key(0), x, t, alpha=0.4), (IMAGES, jax.nn.one_hot(LABELS, 5))),
    ("crop_flip", lambda x: random_crop_flip(jax.random.key(1), x, padding=2, flip=True), (IMAGES,)),
    ("fgsm", lambda x, w: fgsm(lambda z: jnp.sum((z.reshape(8, -1) @ w) ** 2, -1), x, epsilon=0.1),
     (IMAGES, _R.normal(size=(108, 3)).astype(np.float32))),
]


class PureFunctionsTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True, with_pmap=True)
  @parameterized.named_parameters(*CASES)
  def test_same_result_eagerly_under_jit_and_under_pmap(self, fn, args):
    expected = fn(*args)
    chex.assert_trees_all_close(self.variant(fn)(*args), expected, rtol=1e-5, atol=1e-6)
