"""Non-robust data sets (Ilyas et al., "Adversarial Examples Are Not Bugs, They Are Features",
NeurIPS 2019): every training image moved by a targeted L2 attack on a standard model towards a
target class ``t`` and relabelled ``t``. A fresh model trained on them is tested on the clean test
set; what it learns comes from the non-robust features the attack planted.

* ``det``: ``t = (y + 1) mod C`` (MadryLab/constructed-datasets): the robust features now point to
  the wrong class, so clean accuracy above chance comes from the non-robust ones alone;
* ``rand``: ``t`` uniform over the ``C`` classes (it may equal ``y``).
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

KINDS = ("det", "rand")


def nonrobust_targets(labels: np.ndarray, num_classes: int, kind: str,
                      rng: np.random.Generator) -> np.ndarray:
  """The target class of every example: ``(y + 1) mod C`` (``det``) or uniform (``rand``)."""
  if kind == "det":
    return ((np.asarray(labels) + 1) % num_classes).astype(np.int32)
  if kind == "rand":
    return rng.integers(0, num_classes, len(labels)).astype(np.int32)
  raise ValueError(f"nonrobust.kind must be one of {KINDS}, got {kind!r}")


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
