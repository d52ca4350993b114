"""The constructed data sets of Ilyas et al., "Adversarial Examples Are Not Bugs, They Are Features"
(NeurIPS 2019): a training split rebuilt from what a source model sees in it. A fresh standard model
trained on one is tested on the clean (and attacked) test set.

* ``det`` / ``rand`` (non-robust features): every image moved by a targeted L2 attack on a standard
  model towards a class ``t`` and relabelled ``t``: ``t = (y + 1) mod C`` (D_det, MadryLab's
  constructed-datasets: the robust features now point to the wrong class, so clean accuracy above
  chance comes from the non-robust ones alone) or uniform over the ``C`` classes (D_rand, ``t`` may
  equal ``y``).
* ``inversion`` (D_R / D_NR): every image ``x`` (label ``y`` kept) replaced by the image that starts
  from *another* training image and matches ``x``'s penultimate representation ``g(x)``: normalised
  L2 gradient descent on ``‖g(x_r) − g(x)‖₂ / ‖g(x)‖₂`` in input space, unconstrained apart from the
  pixel range (the ``robustness`` library's representation inversion). From an adversarially trained
  source it is D_R, which holds the robust features only; from a standard source D_NR, the control.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxtricks.adversarial import targeted_pgd_l2
from jaxtricks.data.datasets import ArrayDataset
from jaxtricks.data.pipeline import map_in_chunks

KINDS = ("det", "rand", "inversion")


def nonrobust_targets(labels: np.ndarray, num_classes: int, kind: str,
                      rng: np.random.Generator) -> np.ndarray:
  """The target class of every example: ``(y + 1) mod C`` (``det``) or uniform (``rand``)."""
  if kind == "det":
    return ((np.asarray(labels) + 1) % num_classes).astype(np.int32)
  if kind == "rand":
    return rng.integers(0, num_classes, len(labels)).astype(np.int32)
  raise ValueError(f"constructed.kind must be 'det' or 'rand' for a relabelled set, got {kind!r}")


def nonrobust_dataset(logits_fn: Callable[[jax.Array], jax.Array], dataset: ArrayDataset, kind: str, *,
                      epsilon: float, step_size: float, steps: int, seed: int,
                      data_range: tuple[float, float] = (0.0, 1.0),
                      chunk_size: int = 256) -> tuple[ArrayDataset, float]:
  """``(D_kind, attack success rate)``: each image of ``dataset`` after :func:`targeted_pgd_l2` on
  ``CE(logits_fn(x), t)`` (``logits_fn``: the standard model in inference mode), labelled ``t``."""
  targets = nonrobust_targets(dataset.labels, dataset.num_classes, kind, np.random.default_rng(seed))

  def attack(chunk):
    x, t = chunk["image"], chunk["target"]
    loss = lambda z: optax.softmax_cross_entropy_with_integer_labels(logits_fn(z), t)  # noqa: E731
    x_adv = targeted_pgd_l2(loss, x, epsilon=epsilon, step_size=step_size, steps=steps,
                            data_range=data_range)
    return {"image": x_adv, "hit": jnp.argmax(logits_fn(x_adv), -1) == t}

  out = map_in_chunks(attack, {"image": dataset.images, "target": targets}, chunk_size=chunk_size)
  relabelled = ArrayDataset(out["image"], targets, dataset.num_classes)
  return relabelled, float(out["hit"].mean())


def inversion_starts(n: int, rng: np.random.Generator) -> np.ndarray:
  """For every example the index of the training image its inversion starts from: a random cycle
  through all ``n`` examples (each start is another image, each image starts exactly one)."""
  order = rng.permutation(n)
  starts = np.empty(n, np.int64)
  starts[order] = np.roll(order, -1)
  return starts


def representation_distance(features: jax.Array, target: jax.Array) -> jax.Array:
  """``‖f − t‖₂ / ‖t‖₂`` per example (the ``robustness`` library's inversion loss)."""
  norm = lambda a: jnp.sqrt(jnp.maximum(jnp.sum(a.reshape(a.shape[0], -1) ** 2, 1), 1e-24))  # noqa: E731
  return norm(features - target) / norm(target)  # The floor keeps the gradient finite at f = t.


def inverted_dataset(features_fn: Callable[[jax.Array], jax.Array], dataset: ArrayDataset, *,
                     step_size: float, steps: int, seed: int,
                     data_range: tuple[float, float] = (0.0, 1.0),
                     chunk_size: int = 256) -> tuple[ArrayDataset, dict[str, float]]:
  """``(D_R or D_NR, distances)``: each image replaced by the inversion of its representation
  ``features_fn(x)`` (the source model's penultimate layer in inference mode) from the image at
  :func:`inversion_starts`; labels kept. :func:`targeted_pgd_l2` minimises
  :func:`representation_distance` with ε = ∞ (the ``robustness`` example passes ε = 1000) and keeps
  each example's best iterate; ``distances`` holds the mean distance at the start and at the end."""
  starts = inversion_starts(len(dataset), np.random.default_rng(seed))

  def invert(chunk):
    target = features_fn(chunk["image"])
    loss = lambda z: representation_distance(features_fn(z), target)  # noqa: E731
    x_r = targeted_pgd_l2(loss, chunk["start"], epsilon=float("inf"), step_size=step_size, steps=steps,
                          data_range=data_range)
    return {"image": x_r, "start": loss(chunk["start"]), "end": loss(x_r)}

  out = map_in_chunks(invert, {"image": dataset.images, "start": dataset.images[starts]},
                      chunk_size=chunk_size)
  distances = {"start": float(out["start"].mean()), "end": float(out["end"].mean())}
  return ArrayDataset(out["image"], dataset.labels, dataset.num_classes), distances
