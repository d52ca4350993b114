"""Every random number a train step draws comes from a key of its own: two draws from one key (the
same crop for two examples, M2m's noise equal to an example's crop, the labelled and unlabelled
batches' dropout masks alike) correlate what should be independent, and no loss value shows it.

Each draw is recorded where JAX turns a key into random bits, so every sampler (uniform, bernoulli,
beta, randint, permutation, ...) of every stream is seen, inside jit, shard_map and vmap. One device:
a draw that every device makes alike (mixup's λ) would be recorded once per device."""

import contextlib
import dataclasses

import jax
import jax._src.random.core as random_core
import ml_collections
import numpy as np
import pytest

from jaxtricks.data import load_digits
from jaxtricks.imbalance import M2mTranslation
from jaxtricks.tasks import TASKS, infogan
from jaxtricks.tasks.base import Data
from jaxtricks.training.config import load_config
from tests.tasks.steps import run_steps


@contextlib.contextmanager
def recorded_draws():
  """Yields a list that fills with the key data of every random-bits draw traced inside the block."""
  draws = []
  original = random_core._random_bits

  def recording(key, bit_width, shape):
    data = jax.random.key_data(key)
    jax.debug.callback(lambda d: draws.append(np.asarray(d).reshape(-1, d.shape[-1])), data)
    return original(key, bit_width, shape)

  jax.clear_caches()  # Trace afresh, so that the step is traced with the recording draw.
  random_core._random_bits = recording
  try:
    yield draws
  finally:
    random_core._random_bits = original
    jax.clear_caches()


def _assert_all_distinct(draws, at_least: int):
  keys = np.concatenate(draws)
  assert len(keys) >= at_least, len(keys)
  unique, counts = np.unique(keys, axis=0, return_counts=True)
  assert len(unique) == len(keys), f"{int((counts > 1).sum())} keys drawn from more than once"


@pytest.fixture(scope="module")
def digits():
  return load_digits()


def test_a_classification_step_draws_every_key_once(digits):
  """Crop, flip, mixup, dropout, RandAugment (ops and magnitudes), Cutout and M2m in one step."""
  config = load_config("digits_student", "smoke")
  config.dataset.standardize = False  # RandAugment works on [0, 1] pixels.
  config.model.cnn.dropout_rate = 0.3
  config.augment.update(crop_padding=2, flip=True, randaugment_ops=2, cutout=2)
  config.train.update(label_smoothing=0.1, mixup_alpha=0.4)
  train, test = digits
  keep = np.concatenate([np.flatnonzero(train.labels == c)[:max(8, 120 - 12 * c)] for c in range(10)])
  train = train.subset(np.sort(keep))  # Long-tailed: M2m translates into the minority classes.
  task = TASKS["classification"].from_config(config, Data(train, test), runs=None)
  task = dataclasses.replace(task, frozen={"generator": task.init(1).variables}, m2m=M2mTranslation(
      samples_per_class=tuple(int(n) for n in train.class_counts()), steps=2, threshold=0.0,
      beta=0.9, data_range=(0.0, 1.0)))
  with recorded_draws() as draws:
    _, metrics = run_steps(task, train, "mesh", 1, steps=1, batch_size=32)
  assert metrics["m2m_accepted"] > 0  # M2m's branch ran.
  # Per example: crop, flip, RandAugment, Cutout, dropout and M2m's draws; once per step: mixup's λ.
  _assert_all_distinct(draws, at_least=5 * 32)


def test_an_infogan_step_draws_every_key_once(digits):
  """The discriminator step's and the generator step's latents: noise, category, continuous codes."""
  config = load_config("digits_infogan", "smoke")
  config.infogan.classifier = ml_collections.ConfigDict()
  task = infogan.from_config(config, Data(*digits), runs=None)
  with recorded_draws() as draws:
    run_steps(task, task.batches.dataset, "mesh", 1, steps=1, batch_size=32)
  _assert_all_distinct(draws, at_least=2 * 3 * 32)


def test_a_noisy_student_step_draws_every_key_once(digits):
  """The labelled and the unlabelled batches' augmentation (crop, flip, RandAugment, Cutout) and
  dropout; the teacher's targets are fixed log-probabilities of the unlabelled examples."""
  config = load_config("digits_semi", "smoke,method=pseudo_label")
  config.model.cnn.update(width=8, dropout_rate=0.5)
  config.augment.update(crop_padding=1, flip=True, cutout=2)
  task = TASKS["semi_supervised"].from_config(config, Data(*digits), runs=None)
  unlabelled = task.batches.unlabelled.dataset
  logp = np.log(np.full((len(unlabelled), 10), 0.1, np.float32))
  teacher = dataclasses.replace(unlabelled, extras={"teacher_logp": logp})
  batches = dataclasses.replace(task.batches, unlabelled=dataclasses.replace(
      task.batches.unlabelled, dataset=teacher))
  task = dataclasses.replace(task, method="noisy_student", net=dataclasses.replace(task.net, batches=batches))
  with recorded_draws() as draws:
    _, metrics = run_steps(task, None, "mesh", 1, steps=1, batches=batches)
  assert "unlabelled_loss" in metrics
  _assert_all_distinct(draws, at_least=2 * 4 * config.train.batch_size)
