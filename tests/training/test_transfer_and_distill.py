"""Distillation from a frozen teacher, transfer learning (frozen backbone / fine-tuning)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxtricks.data import TrainBatches, load_digits
from jaxtricks.losses import kd_loss, rkd_angle_loss, rkd_distance_loss
from jaxtricks.models import SmallCNN
from jaxtricks.parallel import DataParallel
from jaxtricks.tasks import Classification, Distillation, Net, Targets, create_train_state
from jaxtricks.training import fit
from jaxtricks.training.config import load_config
from jaxtricks.transfer import backbone_labels, load_variables, transfer_optimizer, transfer_variables
from tests.conftest import REPO


def _bitwise_equal(a, b):
  return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def test_distillation_step_adds_the_teacher_losses_and_leaves_the_teacher_untouched():
  train, _ = load_digits()
  student, teacher = SmallCNN(width=4), SmallCNN(width=8, axis_name="batch")
  tx = optax.sgd(0.1)
  t_state = create_train_state(teacher, tx, train.images[:1], seed=1)
  t_vars = t_state.variables
  distill = Distillation(teacher, kd_weight=0.7, temperature=3.0, rkd_distance_weight=1.0,
                         rkd_angle_weight=2.0, features="embedding")
  batches = TrainBatches(train, 64, seed=0)
  task = Classification(net=Net(model=student, tx=tx, schedule=lambda s: 0.1, batches=batches),
                        targets=Targets(num_classes=10), task_weight=0.3, distill=distill,
                        frozen={"teacher": t_vars})
  state = task.init(0)
  parallel = DataParallel("mesh")
  batch = batches.batch(0)
  new_state, metrics = parallel.step(task.train_step)(parallel.replicate(state), batch)
  assert _bitwise_equal(jax.device_get(new_state.frozen["teacher"]), t_vars)
  assert not _bitwise_equal(new_state.params, state.params)
  expected = 0.3 * metrics["task_loss"] + metrics["kd"] + metrics["rkd_distance"] + metrics["rkd_angle"]
  np.testing.assert_allclose(metrics["loss"], expected, rtol=1e-5)
  # The KD term recomputed outside the step: per device shard (student in training mode, teacher in
  # inference mode), averaged over devices.
  def shard_kd(images):
    (s_out, _), _ = student.apply({"params": state.params, "batch_stats": state.batch_stats}, images,
                                  train=True, mutable=["batch_stats"])
    return kd_loss(s_out, teacher.apply(t_vars, images, train=False)[0], temperature=3.0).mean()
  shards = batch["image"].reshape((parallel.device_count, -1) + batch["image"].shape[1:])
  kd = np.mean([shard_kd(images) for images in shards])
  np.testing.assert_allclose(metrics["kd"], 0.7 * kd, rtol=1e-5)
  # The RKD terms on the embeddings of the whole global batch, with their weights 1 and 2.
  def embeddings(model, variables, images, train):
    (_, aux), _ = model.apply(variables, images, train=train, mutable=["batch_stats"])
    return aux["embedding"]
  s_emb = np.concatenate([embeddings(student, state.variables, x, True) for x in shards])
  t_emb = np.concatenate([embeddings(teacher, t_vars, x, False) for x in shards])
  np.testing.assert_allclose(metrics["rkd_distance"], rkd_distance_loss(s_emb, t_emb), rtol=1e-4)
  np.testing.assert_allclose(metrics["rkd_angle"], 2.0 * rkd_angle_loss(s_emb, t_emb), rtol=1e-4)


def test_transfer_variables_replaces_the_head_only_and_names_mismatches():
  x = jnp.zeros((1, 8, 8, 1))
  source = SmallCNN(num_classes=5, width=4).init(jax.random.key(0), x, train=False)
  target = SmallCNN(num_classes=3, width=4).init(jax.random.key(1), x, train=False)
  moved = transfer_variables(target, source)
  assert moved["params"]["head"]["kernel"].shape == (16, 3)
  assert _bitwise_equal(moved["params"]["head"], target["params"]["head"])
  assert _bitwise_equal(moved["params"]["Conv_0"], source["params"]["Conv_0"])
  assert _bitwise_equal(moved["batch_stats"], source["batch_stats"])
  wider = SmallCNN(num_classes=3, width=8).init(jax.random.key(1), x, train=False)
  with pytest.raises(ValueError, match=r"shape mismatch for \[.*\]: pretrained \(4,\), model \(8,\)"):
    transfer_variables(wider, source)


def test_googlenet_transfers_to_another_class_count_with_fresh_auxiliary_heads():
  """The auxiliary classifiers' output layers are heads too: they take the new class count, their
  hidden layers transfer, and a frozen backbone still trains all three output layers."""
  from jaxtricks.models.inception import GoogLeNet

  def variables(classes, value):  # The model's variable tree (shapes only traced), filled with value.
    init = functools.partial(GoogLeNet(num_classes=classes, width=0.125).init, train=True)
    shapes = jax.eval_shape(init, {"params": jax.random.key(0), "dropout": jax.random.key(0)},
                            jnp.zeros((1, 8, 8, 1)))
    return jax.tree.map(lambda leaf: jnp.full(leaf.shape, value, leaf.dtype), shapes)

  moved = transfer_variables(variables(5, 1.0), variables(10, 2.0))["params"]
  for aux in ("aux_head1", "aux_head2"):
    assert moved[aux]["head"]["kernel"].shape[-1] == 5
    assert np.all(moved[aux]["head"]["kernel"] == 1.0)  # Fresh.
    assert np.all(moved[aux]["Dense_0"]["kernel"] == 2.0)  # Transferred.
  labels = backbone_labels(moved)
  assert {labels["head"]["kernel"], labels["aux_head1"]["head"]["kernel"]} == {"head"}
  assert labels["aux_head1"]["Dense_0"]["kernel"] == "backbone"


def test_backbone_lr_factor_scales_backbone_updates_only():
  params = {"head": {"kernel": jnp.ones(3)}, "Conv_0": {"kernel": jnp.ones(3)}}
  grads = jax.tree.map(jnp.ones_like, params)
  assert backbone_labels(params) == {"head": {"kernel": "head"}, "Conv_0": {"kernel": "backbone"}}
  for freeze, factor, expected in ((False, 0.1, 0.1), (True, 1.0, 0.0)):
    tx = transfer_optimizer(optax.sgd(0.5), freeze_backbone=freeze, backbone_lr_factor=factor)
    updates, _ = tx.update(grads, tx.init(params), params)
    np.testing.assert_allclose(updates["head"]["kernel"], -0.5)
    np.testing.assert_allclose(updates["Conv_0"]["kernel"], -0.5 * expected)


def test_frozen_backbone_stays_bit_identical_while_the_new_head_learns(tmp_path):
  """The head alone learns the five new classes: 0.37 test accuracy measured at this tiny budget (width 4,
  5 epochs), chance 0.2."""
  config = load_config(REPO / "configs" / "digits_transfer_freeze.py", "smoke")
  config.progress = False
  config.transfer.pretrain.progress = False
  config.train.num_epochs = config.eval_every_epochs = 5
  config.transfer.pretrain.train.num_epochs = 3
  final, state = fit(config, tmp_path)
  assert final["eval/accuracy"] >= 0.3, final
  pretrained = load_variables(tmp_path / "pretrained")
  params = jax.device_get(state.params)
  backbone = {k: v for k, v in params.items() if k != "head"}
  assert _bitwise_equal(backbone, {k: v for k, v in pretrained["params"].items() if k != "head"})
  assert _bitwise_equal(jax.device_get(state.batch_stats), pretrained["batch_stats"])
  assert params["head"]["kernel"].shape[-1] == 5
