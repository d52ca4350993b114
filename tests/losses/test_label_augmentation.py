import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxtricks.losses.label_augmentation import (aggregated_logits, label_augment, single_logits, sla_loss,
                                                 sla_self_distillation_loss)
from tests.conftest import golden_cases, load_golden

_close = lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
_nhwc = lambda x: np.transpose(x, (0, 2, 3, 1))


def _transform(stem):
  return "rotation" if "rotation" in stem else "color_perm"


@pytest.mark.parametrize("path", golden_cases("relational", "sla_*.npz"))
def test_sla_matches_official(path):
  g = load_golden(path)
  m = int(g["num_transforms"])
  images, joint = label_augment(jnp.asarray(_nhwc(g["images"])), jnp.asarray(g["labels"]),
                                _transform(path.stem))
  _close(images, _nhwc(g["transformed_images"]))
  np.testing.assert_array_equal(joint, g["joint_labels"])
  logits = jnp.asarray(g["joint_logits"])
  mean = lambda x: sla_loss(x, joint).mean()
  _close(mean(logits), g["loss"])
  _close(jax.grad(mean)(logits), g["grad_joint_logits"])
  _close(jax.grad(lambda x: m * mean(x))(logits), g["grad_joint_logits_large"])
  _close(single_logits(logits, m), g["single_preds"])
  _close(aggregated_logits(logits, m), g["agg_preds"])
  np.testing.assert_array_equal(jnp.argmax(aggregated_logits(logits, m), -1), g["agg_pred_class"])
  agg_ce = optax.softmax_cross_entropy_with_integer_labels(aggregated_logits(logits, m), g["labels"])
  _close(agg_ce.mean(), g["agg_ce"])


@pytest.mark.parametrize("path", golden_cases("relational", "slasd_*.npz"))
def test_sla_self_distillation_matches_official(path):
  g = load_golden(path)
  m = int(g["num_transforms"])
  loss = lambda j, s: sla_self_distillation_loss(j, s, g["joint_labels"], g["labels"], num_transforms=m,
                                                 temperature=float(g["T"]))
  value, (g_joint, g_single) = jax.value_and_grad(loss, argnums=(0, 1))(
      jnp.asarray(g["joint_logits"]), jnp.asarray(g["single_head_logits"]))
  _close(value, g["loss"])
  _close(g_joint, g["grad_joint_logits"])
  _close(g_single, g["grad_single_head_logits"])
