"""Semi-supervised classification from a few labels: supervised only, pseudo-labelling (Lee, ICML-W
2013) and Noisy Student self-training (Xie et al., CVPR 2020).

The training split is divided into a labelled part (``semi.labelled_fraction`` of every class, drawn
with ``dataset.split_seed``) and an unlabelled part whose labels are never trained on (they only
measure the pseudo-labels). Every step takes a labelled batch of ``train.batch_size`` and an
unlabelled batch ``unlabel_ratio`` times larger; an epoch is ``|training split| / batch_size``
steps for every method, so the methods train for the same number of steps.

* ``supervised``: cross-entropy on the labelled batch (the teacher of the first generation).
* ``pseudo_label``: ``CE(labelled) + α(t)·CE(unlabelled, own argmax)``, the network's own hard labels
  recomputed every step (from the same training-mode forward pass, under ``stop_gradient``), ``α``
  ramped from epoch ``alpha_t1`` to ``alpha_t2``, optionally only above a confidence threshold.
* ``noisy_student``: the frozen teacher (``semi.teacher`` trained first into ``WORKDIR/teacher``, or
  ``semi.teacher_workdir``) labels the unlabelled part once, clean (inference mode, no augmentation);
  Noisy Student's class balancing keeps / duplicates examples; the student learns with noise
  (``augment``: RandAugment, ``model.dropout_rate``, ``model.stochastic_depth``) from
  ``CE_ls(labelled) + ratio·CE(unlabelled, teacher)``, soft targets ``softmax(t/T)`` or smoothed
  hard ones (``temperature <= 0``). With ``semi.generations = G`` each student is the next teacher.

The labelled and unlabelled batches go through the network as two batches (BatchNorm statistics per
batch; Noisy Student's code concatenates them), so per-example randomness stays keyed by each
example's global position and a run does not depend on the device count.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxtricks.data import ArrayDataset, JointBatches, map_in_chunks
from jaxtricks.data.semi_supervised import balance_pseudo_labels, labelled_split
from jaxtricks.losses.pseudo_label import alpha_ramp, noisy_student_loss, pseudo_label_loss
from jaxtricks.tasks.base import (CLASSIFICATION_TARGETS, Batch, Data, Metrics, Prediction, SingleNet,
                                  StepKeys, TrainState, build_net, reject_options, train_batches)

METHODS = ("supervised", "pseudo_label", "noisy_student")
GENERATIONS = "semi"  # Noisy Student: semi.generations.
STREAMED_IMAGES = False


def config_blocks() -> dict[str, ml_collections.ConfigDict]:
  s = ml_collections.ConfigDict()
  s.method = "noisy_student"  # supervised | pseudo_label | noisy_student
  s.labelled_fraction = 0.1  # Of every class of the training split; the rest is unlabelled.
  s.unlabel_ratio = 3  # Unlabelled batch = this × train.batch_size (Noisy Student SVHN: 5).
  s.alpha = 3.0  # pseudo_label: the final weight α_f of the unlabelled term (Lee: 3),
  s.alpha_t1 = 0.0  # reached by a linear ramp from epoch t1 (Lee: 100)
  s.alpha_t2 = 1.0  # to epoch t2 (Lee: 600).
  s.threshold = 0.0  # pseudo_label: count only unlabelled examples this confident (0: all).
  s.temperature = 1.0  # noisy_student: soft targets softmax(t/T) (official scripts: 1); <= 0: hard.
  s.label_smoothing = 0.1  # noisy_student: on the labelled batch and on hard pseudo-labels.
  s.balance = True  # noisy_student: the official class balancing of the pseudo-labelled set.
  s.balance_num_image = 0  # Examples per class after balancing; 0: unlabelled size / classes.
  s.balance_min_threshold = 0.3  # Lowest confidence threshold (a multiple of 0.01).
  s.teacher = ml_collections.ConfigDict()  # noisy_student: the teacher's config, trained first.
  s.teacher_workdir = ""  # Or a finished run's directory; default WORKDIR/teacher.
  s.generations = 1  # noisy_student: generation g > 1 learns from generation g − 1.
  return {"semi": s}


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class SemiSupervised(SingleNet):
  """Cross-entropy on labelled batches plus, per ``method``, Lee's pseudo-label term or the Noisy
  Student loss on the unlabelled batches (whose field ``teacher_logp`` holds the teacher's
  log-probabilities). The unlabelled batch draws from its own streams (``keys.for_unlabelled()``)."""

  method: str
  unlabel_ratio: float
  alpha: float = 3.0
  alpha_t1: float = 0.0  # Epochs.
  alpha_t2: float = 1.0
  threshold: float = 0.0
  temperature: float = 1.0
  label_smoothing: float = 0.1

  def prepare(self, state: TrainState, batch: Batch, keys: StepKeys) -> tuple[Batch, Metrics]:
    out = {**batch, "image": self.net.augment(keys.augment, batch["image"])}
    if self.method != "supervised":
      unl_key = keys.for_unlabelled().augment
      out["unlabelled_image"] = self.net.augment(unl_key, batch["unlabelled_image"])
    return out, {}

  def loss(self, params, state: TrainState, batch: Batch, keys: StepKeys):
    logits, stats, _ = self.apply(params, state, batch["image"], keys)
    labels = batch["label"]
    metrics = {"accuracy": jnp.mean(jnp.argmax(logits, -1) == labels)}
    if self.method == "supervised":
      loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
      return loss, (stats, metrics)
    unl_logits, stats, _ = self.apply(params, state.replace(batch_stats=stats),
                                      batch["unlabelled_image"], keys.for_unlabelled())
    if self.method == "pseudo_label":
      epoch = state.step / self.batches.steps_per_epoch
      alpha = alpha_ramp(epoch, t1=self.alpha_t1, t2=self.alpha_t2, alpha_f=self.alpha)
      loss, terms = pseudo_label_loss(logits, labels, unl_logits, alpha=alpha, threshold=self.threshold)
      terms["alpha"] = alpha
      pseudo = jnp.argmax(unl_logits, -1)
    else:
      teacher = batch["unlabelled_teacher_logp"]
      loss, terms = noisy_student_loss(logits, labels, unl_logits, teacher,
                                       unlabel_ratio=self.unlabel_ratio, temperature=self.temperature,
                                       label_smoothing=self.label_smoothing)
      pseudo = jnp.argmax(teacher, -1)
    # The unlabelled part's true labels only measure the pseudo-labels; no loss reads them.
    metrics["pseudo_label_accuracy"] = jnp.mean(pseudo == batch["unlabelled_label"])
    return loss, (stats, {**metrics, **terms})



def check(config: ml_collections.ConfigDict) -> None:
  s = config.semi
  if s.method not in METHODS:
    raise ValueError(f"semi.method must be one of {METHODS}, got {s.method!r}")
  if s.unlabel_ratio <= 0:
    raise ValueError(f"semi.unlabel_ratio must be > 0, got {s.unlabel_ratio}")
  if s.generations < 1:
    raise ValueError(f"semi.generations must be >= 1, got {s.generations}")
  if s.generations > 1 and s.method != "noisy_student":
    raise ValueError(f"semi.generations > 1 needs semi.method='noisy_student', got {s.method!r}")
  reject_options(config, "semi_supervised", CLASSIFICATION_TARGETS)


def output_size(config: ml_collections.ConfigDict, num_classes: int) -> int:
  return num_classes


def prediction(config: ml_collections.ConfigDict, num_classes: int) -> Prediction:
  return Prediction(f"the student's class logits [N, {num_classes}]")


def teacher_log_probabilities(run, images: np.ndarray, num_classes: int) -> np.ndarray:
  """``log softmax`` of a finished run's network on ``images``, in inference mode, no augmentation."""
  model = run.model(num_classes, jnp.float32)
  return map_in_chunks(lambda x: jax.nn.log_softmax(model.apply(run.variables, x, train=False)[0]),
                       images)


def from_config(config: ml_collections.ConfigDict, data: Data, runs) -> SemiSupervised:
  check(config)
  s = config.semi
  train = data.train
  labelled_idx, unlabelled_idx = labelled_split(train.labels, s.labelled_fraction, config.dataset.split_seed)
  labelled = train.subset(labelled_idx)
  unlabelled = train.subset(unlabelled_idx)
  pseudo_accuracy = None
  if s.method == "noisy_student":
    run = runs.load("teacher", s.teacher or None, s.teacher_workdir)
    logp = teacher_log_probabilities(run, unlabelled.images, train.num_classes)
    keep = np.arange(len(unlabelled))
    if s.balance:
      num_image = s.balance_num_image or len(unlabelled) // train.num_classes
      keep = balance_pseudo_labels(np.exp(logp), num_image=num_image,
                                   min_threshold=s.balance_min_threshold,
                                   rng=np.random.default_rng(config.seed)).indices()
    unlabelled = ArrayDataset(unlabelled.images, unlabelled.labels, unlabelled.num_classes,
                              {"teacher_logp": logp}).subset(keep)
    pseudo_accuracy = float(np.mean(np.argmax(unlabelled.extras["teacher_logp"], -1) == unlabelled.labels))
  ratio = s.unlabel_ratio
  if s.method == "noisy_student" and len(unlabelled) < ratio * config.train.batch_size:
    raise ValueError(f"the class balancing kept {len(unlabelled)} pseudo-labelled examples, fewer than an "
                     f"unlabelled batch ({ratio} × {config.train.batch_size}): the teacher is rarely "
                     f"confident; lower semi.balance_min_threshold (now {s.balance_min_threshold})")
  steps_per_epoch = len(train) // config.train.batch_size
  unlabelled_batches = None
  if s.method != "supervised":
    unlabelled_batches = train_batches(config, unlabelled, batch_size=int(ratio * config.train.batch_size),
                                       seed=config.seed + 1, resample="none")
  batches = JointBatches(train_batches(config, labelled), unlabelled_batches, steps_per_epoch)
  net = build_net(config, runs, batches, output_size=train.num_classes)
  constants = None
  if pseudo_accuracy is not None:  # Of the teacher's labels, on the kept unlabelled data.
    constants = {"eval/teacher_pseudo_label_accuracy": pseudo_accuracy}
  return SemiSupervised(net=net, constant_metrics=constants, method=s.method, unlabel_ratio=ratio,
                        alpha=s.alpha, alpha_t1=s.alpha_t1, alpha_t2=s.alpha_t2, threshold=s.threshold,
                        temperature=s.temperature, label_smoothing=s.label_smoothing)
