"""Constructed data sets: the non-robust target rules (golden) and relabelled attacked images; the
inversion (D_R / D_NR) starts from another image and lowers the distance it minimises."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxtricks.data import ArrayDataset
from jaxtricks.data.constructed import (inversion_starts, inverted_dataset, nonrobust_dataset,
                                        nonrobust_targets, representation_distance)
from tests.conftest import golden_cases, load_golden


@pytest.mark.parametrize("path", golden_cases("data_efficient", "nonrobust_targets_*.npz"))
def test_target_rules(path):
  case = load_golden(path)
  rng = np.random.default_rng(0)
  np.testing.assert_array_equal(nonrobust_targets(case["y"], 10, "det", rng), case["t_det"])
  draws = nonrobust_targets(np.zeros(5000, np.int32), 10, "rand", rng)
  counts = np.bincount(draws, minlength=10)
  assert counts.min() > 400 and counts[0] > 400  # uniform over all classes, y included
  with pytest.raises(ValueError, match="constructed.kind"):
    nonrobust_targets(case["y"], 10, "other", rng)


def test_dataset_holds_attacked_images_labelled_with_their_targets():
  rng = np.random.default_rng(0)
  w = jnp.asarray(rng.normal(size=(16, 4)), jnp.float32)
  images = rng.uniform(0.2, 0.8, (40, 4, 4, 1)).astype(np.float32)
  labels = np.asarray(jnp.argmax(images.reshape(40, -1) @ w, -1), np.int32)
  data = ArrayDataset(images, labels, 4)
  logits = lambda x: x.reshape(x.shape[0], -1) @ w  # noqa: E731
  adv, success = nonrobust_dataset(logits, data, "det", epsilon=2.0, step_size=0.4, steps=30, seed=0,
                                   chunk_size=16)
  np.testing.assert_array_equal(adv.labels, (labels + 1) % 4)
  assert success > 0.9
  assert np.mean(np.argmax(logits(adv.images), -1) == adv.labels) == pytest.approx(success)
  moved = np.linalg.norm((adv.images - images).reshape(40, -1), axis=1)
  assert np.all(moved <= 2.0 + 1e-5) and moved.mean() > 0.1


def test_every_inversion_starts_from_another_image_and_each_image_is_one_start():
  starts = inversion_starts(101, np.random.default_rng(0))
  assert np.all(starts != np.arange(101))
  assert sorted(starts) == list(range(101))
  assert not np.array_equal(starts, inversion_starts(101, np.random.default_rng(1)))


def test_inversion_lowers_the_representation_distance_and_keeps_labels():
  rng = np.random.default_rng(0)
  w = jnp.asarray(rng.normal(size=(16, 8)), jnp.float32)
  features = lambda x: jnp.tanh(x.reshape(x.shape[0], -1) @ w)  # noqa: E731
  images = rng.uniform(0.0, 1.0, (40, 4, 4, 1)).astype(np.float32)
  data = ArrayDataset(images, rng.integers(0, 4, 40).astype(np.int32), 4)
  inverted, distance = inverted_dataset(features, data, step_size=0.1, steps=60, seed=0, chunk_size=16)
  np.testing.assert_array_equal(inverted.labels, data.labels)
  starts = images[inversion_starts(40, np.random.default_rng(0))]
  before = representation_distance(features(starts), features(images))
  after = representation_distance(features(inverted.images), features(images))
  assert distance["start"] == pytest.approx(float(before.mean()), rel=1e-5)
  assert distance["end"] == pytest.approx(float(after.mean()), rel=1e-5)
  assert np.all(after <= before + 1e-6) and after.mean() < 0.3 * before.mean()
  assert inverted.images.min() >= 0.0 and inverted.images.max() <= 1.0


def test_each_constructed_set_is_built_through_its_own_source_model(tmp_path):
  """Two standard networks (seeds 0 and 1) as sources, the sets built by the classification task
  from ``constructed.source_workdir``. Inverted images match the representation of the digits they
  replace far more closely through the source that built them than through the other network, and
  ``det`` images are read as their new labels by their source, not by the other network: a set built
  through another model (the fresh network, the other source, logits instead of the embedding) fails."""
  import ml_collections

  from jaxtricks.data import build_datasets
  from jaxtricks.inference import load_run
  from jaxtricks.tasks import TASKS
  from jaxtricks.tasks.base import Data
  from jaxtricks.training import fit, load_config
  from jaxtricks.training.runs import Runs

  sources = []
  for seed in (0, 1):
    c = load_config("digits_nonrobust", f"smoke,kind=none,seed={seed}")
    c.progress = False
    c.train.num_epochs = 6
    fit(c, tmp_path / f"source{seed}")
    sources.append(load_run(tmp_path / f"source{seed}").inference())
  train, test = build_datasets(c.dataset)
  digits = train.subset(np.arange(96))

  def built_by_source_0(kind, **settings):
    config = load_config("digits_robust_features", "smoke,kind=nonrobust")
    config.constructed.update(kind=kind, source=ml_collections.ConfigDict(),
                              source_workdir=str(tmp_path / "source0"), **settings)
    task = TASKS["classification"].from_config(config, Data(digits, test), Runs(tmp_path, None))
    return task.batches.dataset, task.constant_metrics

  inverted, reported = built_by_source_0("inversion", steps=100)
  embedding = lambda source, x: source(jnp.asarray(x))[1]["embedding"]  # noqa: E731
  distance = [float(representation_distance(embedding(s, inverted.images),
                                            embedding(s, digits.images)).mean()) for s in sources]
  assert distance[0] < 0.5 * distance[1], distance
  # The distance the construction reports is the penultimate layer's of its source, measured here.
  assert reported["eval/inversion_distance_end"] == pytest.approx(distance[0], rel=1e-4)
  det, _ = built_by_source_0("det", epsilon=1.0, step_size=0.2, steps=30)
  read_as = [float(np.mean(np.asarray(s(jnp.asarray(det.images))[0]).argmax(1) == det.labels))
             for s in sources]
  assert read_as[0] > read_as[1] + 0.4, read_as
