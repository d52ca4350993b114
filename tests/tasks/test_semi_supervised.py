"""Semi-supervised training: the few-label split, the joint stream, device-count independence, hidden
labels that no loss reads, the teacher's targets, and Noisy Student generations."""

import dataclasses
import json
import types

import chex
import jax
import numpy as np
import pytest

from jaxtricks.data import JointBatches, TrainBatches, load_digits
from jaxtricks.data.semi_supervised import labelled_split
from jaxtricks.parallel import AXIS
from jaxtricks.tasks import TASKS
from jaxtricks.tasks.base import Data, step_keys
from jaxtricks.training import fit
from jaxtricks.training.config import load_config
from jaxtricks.training.runs import Runs
from tests.tasks.steps import run_on_every_topology, run_steps


@pytest.fixture(scope="module")
def digits():
  return load_digits()


def _task(digits, method="pseudo_label", **semi):
  config = load_config("digits_semi", "smoke,method=pseudo_label")
  config.semi.update(method=method, **semi)
  config.model.cnn.width = 8
  config.augment.cutout = 2  # Every per-example draw: crop, RandAugment, Cutout, dropout.
  return config, TASKS["semi_supervised"].from_config(config, Data(*digits), runs=None)


def _steps(task, steps=2, batch=None):
  """Steps on one device; ``batch(batches, step)`` edits the stream's batches."""
  batches = types.SimpleNamespace(batch=lambda s: batch(task.batches, s)) if batch else task.batches
  return run_steps(task, None, steps=steps, batches=batches)


def _noisy_student(task, target: int):
  """``task`` as a Noisy Student whose teacher puts 0.91 on class ``target`` for every unlabelled
  image (the labelled images stand in for them)."""
  unlabelled = task.batches.labelled.dataset
  logp = np.log(np.full((len(unlabelled), 10), 0.01, np.float32))
  logp[:, target] = np.log(0.91)
  data = dataclasses.replace(unlabelled, extras={"teacher_logp": logp})
  batches = JointBatches(task.batches.labelled, TrainBatches(data, 96, seed=1),
                         task.batches.steps_per_epoch)
  return dataclasses.replace(task, method="noisy_student", net=dataclasses.replace(task.net, batches=batches))


def test_labelled_split_is_stratified_disjoint_and_seeded(digits):
  train, _ = digits
  lab, unl = labelled_split(train.labels, 0.05, seed=0)
  assert len(np.intersect1d(lab, unl)) == 0 and len(lab) + len(unl) == len(train)
  counts = np.bincount(train.labels[lab], minlength=10)
  np.testing.assert_array_equal(counts, np.round(0.05 * np.bincount(train.labels)).astype(int))
  np.testing.assert_array_equal(labelled_split(train.labels, 0.05, seed=0)[0], lab)
  assert not np.array_equal(labelled_split(train.labels, 0.05, seed=1)[0], lab)
  with pytest.raises(ValueError, match="labelled fraction"):
    labelled_split(train.labels, 0.0, seed=0)


def test_joint_batches_carry_both_streams(digits):
  _, task = _task(digits)
  batch = task.batches.batch(3)
  assert batch["image"].shape[0] == 32 and batch["unlabelled_image"].shape[0] == 96
  lab_ids = {x.tobytes() for x in task.batches.labelled.dataset.images}
  assert all(x.tobytes() in lab_ids for x in batch["image"].reshape(-1, 8, 8, 1))
  assert task.batches.unlabelled.resample == "none"  # the hidden labels never steer the stream
  assert task.batches.steps_per_epoch == len(digits[0]) // 32


def test_noisy_student_step_is_the_same_on_every_topology(digits, tmp_path):
  """Mesh 8 = 2 = 1 device = pmap 8, resumed from a checkpoint of another topology."""
  _, task = _task(digits, "supervised")
  task = _noisy_student(task, 3)
  reference, ref_metrics = _steps(task)
  for topology, (state, metrics) in run_on_every_topology(task, None, tmp_path, batches=task.batches):
    chex.assert_trees_all_close(state.variables, reference.variables, atol=1e-5, rtol=1e-5,
                                custom_message=str(topology))
    for key in ref_metrics:
      np.testing.assert_allclose(metrics[key], ref_metrics[key], rtol=1e-5, atol=1e-5,
                                 err_msg=f"{topology} {key}")


def test_pseudo_label_step_is_the_same_on_8_and_1_devices(digits):
  _, task = _task(digits)
  reference, ref_metrics = _steps(task)
  state, metrics = run_steps(task, None, "mesh", 8, batches=task.batches)
  chex.assert_trees_all_close(state.variables, reference.variables, atol=1e-5, rtol=1e-5)
  for key in ref_metrics:
    np.testing.assert_allclose(metrics[key], ref_metrics[key], rtol=1e-5, atol=1e-5, err_msg=key)


def test_hidden_labels_are_never_trained_on(digits):
  _, task = _task(digits, alpha_t1=0.0, alpha_t2=0.001)  # α = 3 from the first step

  def shuffled(batches, s):
    b = batches.batch(s)
    return {**b, "unlabelled_label": (b["unlabelled_label"] + 1) % 10}

  state, metrics = _steps(task)
  other, other_metrics = _steps(task, batch=shuffled)
  chex.assert_trees_all_equal(state.params, other.params)
  assert metrics["pseudo_label_accuracy"] != other_metrics["pseudo_label_accuracy"]
  assert metrics["alpha"] == pytest.approx(3.0) and metrics["unlabelled_loss"] > 0


def test_noisy_student_trains_on_the_teachers_targets(digits):
  _, task = _task(digits, "supervised")
  a, ma = _steps(_noisy_student(task, 3))
  b, mb = _steps(_noisy_student(task, 7))
  assert ma["unlabelled_loss"] > 0 and not np.isclose(ma["unlabelled_loss"], mb["unlabelled_loss"])
  assert not np.allclose(jax.tree.leaves(a.params)[0], jax.tree.leaves(b.params)[0])
  assert set(ma) >= {"labelled_loss", "unlabelled_loss", "pseudo_label_accuracy"}


def test_noisy_student_generations_chain_teachers(tmp_path, digits):
  config = load_config("digits_semi", "smoke,generations=2")
  config.progress = False
  config.semi.teacher.progress = False
  config.semi.balance = False  # Every unlabelled digit keeps its pseudo-label.
  final, _ = fit(config, tmp_path, datasets=digits)
  assert len(final["generations"]) == 2 and "eval/accuracy" in final["teacher"]
  # Each generation is taught by the labels of the network before it, on the unlabelled digits.
  unlabelled = labelled_split(digits[0].labels, config.semi.labelled_fraction, config.dataset.split_seed)[1]
  for g, teacher_dir in enumerate(("teacher", "generation_1")):
    network = Runs(tmp_path, fit).load(teacher_dir, workdir=str(tmp_path / teacher_dir)).inference(10)
    predicted = np.argmax(np.asarray(network(digits[0].images[unlabelled])[0]), -1)
    agreement = np.mean(predicted == digits[0].labels[unlabelled])
    assert final["generations"][g]["eval/teacher_pseudo_label_accuracy"] == pytest.approx(agreement)
  second = json.loads((tmp_path / "generation_2" / "config.json").read_text())
  assert second["semi"]["teacher_workdir"] == str(tmp_path / "generation_1")
  first = json.loads((tmp_path / "generation_1" / "config.json").read_text())
  assert first["semi"]["teacher_workdir"] == str(tmp_path / "teacher")
  teacher = json.loads((tmp_path / "teacher" / "final_metrics.json").read_text())
  labelled = labelled_split(digits[0].labels, config.semi.labelled_fraction, config.dataset.split_seed)[0]
  assert teacher["train_class_counts"] == np.bincount(digits[0].labels[labelled], minlength=10).tolist()
  for g in final["generations"]:
    assert 0.0 <= g["eval/teacher_pseudo_label_accuracy"] <= 1.0
  again, _ = fit(config, tmp_path, datasets=digits)  # finished: reloaded, not retrained
  assert again["generations"] == final["generations"]


@pytest.mark.parametrize("semi, message", [
    ({"method": "fixmatch"}, "semi.method"), ({"unlabel_ratio": 0}, "semi.unlabel_ratio"),
    ({"method": "pseudo_label", "generations": 2}, "semi.generations")])
def test_bad_options_are_named(digits, semi, message):
  with pytest.raises(ValueError, match=message):
    _task(digits, **semi)


def test_both_batches_are_augmented_independently(digits):
  _, task = _task(digits)
  state = task.init(0)
  batch = {k: v[None, :len(v) // 8] for k, v in task.batches.batch(0).items()}  # one device of 8
  keys = step_keys(state)
  out, _ = jax.vmap(lambda b: task.prepare(state, b, keys), axis_name=AXIS)(batch)
  for name in ("image", "unlabelled_image"):
    changed = np.any(np.asarray(out[name]) != batch[name], axis=(2, 3, 4))
    assert changed.mean() > 0.5, name
  supervised = dataclasses.replace(task, method="supervised")
  same, _ = jax.vmap(lambda b: supervised.prepare(state, b, keys), axis_name=AXIS)(batch)
  np.testing.assert_array_equal(same["image"], out["image"])
  np.testing.assert_array_equal(same["unlabelled_image"], batch["unlabelled_image"])
