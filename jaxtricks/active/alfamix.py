"""ALFA-Mix (Parvaneh et al., CVPR 2022): query the unlabelled points whose prediction flips when
their embedding is mixed with a labelled class anchor, then diversify the candidates with k-means.

Candidate search, as in the official code (AminParvaneh/alpha_mix_active_learning):
``cap = 0; while cap < 1: cap += cap_step; candidates |= flips(cap); if |candidates| > B: stop``;
a point flips at ``cap`` if ``argmax head((1 − α) ⊙ z + α ⊙ a_i) ≠ ŷ`` for some anchor ``a_i`` (the
mean labelled embedding of class i, or of all labelled points for a class without labels).
``α`` is the closed form ``ε·|a_i − z|/|g| · g ⊘ (a_i − z)`` with ``ε = cap/√D`` and ``g = ∇_z CE(head(z),
ŷ)``, or learned by 5 signed-gradient steps from a random start, or that random start alone.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

MODES = ("closed_form", "learned", "random")


def class_anchors(embeddings: jax.Array, labels: jax.Array, num_classes: int) -> jax.Array:
  """``[C, D]`` per-class means of the labelled embeddings under their true labels; a class without
  labelled examples gets the mean of all of them (official fallback)."""
  one_hot = jax.nn.one_hot(labels, num_classes, dtype=embeddings.dtype)
  counts = one_hot.sum(0)
  sums = one_hot.T @ embeddings
  overall = embeddings.mean(0)
  return jnp.where(counts[:, None] > 0, sums / jnp.maximum(counts, 1)[:, None], overall[None])


@jax.jit
def _closed_form_terms(z, kernel, bias, anchors):
  """Logits ``o``, pseudo-labels ``ŷ``, logit velocities ``s = ĝ W`` and anchor distances.

  For a linear head the closed-form mix is ``z + ε·|a_i − z|·ĝ`` (up to the official ``+1e-8``), so
  its logits are ``o + ε·|a_i − z|·s``: every anchor moves ``z`` along the same direction ``ĝ``.
  """
  logits = z @ kernel + bias
  pred = jnp.argmax(logits, -1)
  grad = (jax.nn.softmax(logits) - jax.nn.one_hot(pred, logits.shape[-1])) @ kernel.T  # ∇_z CE
  direction = grad / jnp.maximum(jnp.linalg.norm(grad, axis=-1, keepdims=True), 1e-30)
  sq = (jnp.sum(z * z, -1)[:, None] - 2.0 * z @ anchors.T + jnp.sum(anchors * anchors, -1)[None])
  return logits, pred, direction @ kernel, jnp.sqrt(jnp.maximum(sq, 0.0))


def _flips_closed_form(cap, dim, logits, pred, velocity, distances):
  eps = cap / np.sqrt(dim)
  moved = logits[:, None, :] + eps * distances[:, :, None] * velocity[:, None, :]  # [U, anchors, C]
  return jnp.any(jnp.argmax(moved, -1) != pred[:, None], axis=1)


_flips_closed_form = jax.jit(_flips_closed_form, static_argnames=("dim",))


@functools.partial(jax.jit, static_argnames=("learn_steps",))
def _flips_mixing(alpha0, z, anchor, kernel, bias, pred, cap, learn_steps, learning_rate, l2_coef):
  """Flips for one anchor with per-dimension ``α`` (learned, or ``learn_steps = 0``: as given).

  Each learning step evaluates the current ``α`` and then takes the official update: a fresh
  ``torch.optim.Adam`` per step, i.e. ``α −= lr·g/(|g| + 1e-8)`` on ``−CE + l2_coef·|α|``, clamped to
  ``[1e-8, cap]`` (learning rate ×0.1 in the last step).
  """
  def head(alpha):
    return ((1.0 - alpha) * z + alpha * anchor) @ kernel + bias

  def objective(alpha):
    ce = -jnp.take_along_axis(jax.nn.log_softmax(head(alpha)), pred[:, None], -1)[:, 0]
    return jnp.sum(-ce + l2_coef * jnp.linalg.norm(alpha, axis=-1))

  flips = jnp.argmax(head(alpha0), -1) != pred
  alpha = alpha0
  for step in range(learn_steps):
    flips = flips | (jnp.argmax(head(alpha), -1) != pred)
    g = jax.grad(objective)(alpha)
    lr = learning_rate * (0.1 if step == learn_steps - 1 else 1.0)
    alpha = jnp.clip(alpha - lr * g / (jnp.abs(g) + 1e-8), 1e-8, cap)
  return flips


def random_alpha(rng: jax.Array, cap: float, shape) -> jax.Array:
  """The official random start ``clamp(N(cap/2, cap/2), 1e-8, cap)``."""
  return jnp.clip(cap / 2 + cap / 2 * jax.random.normal(rng, shape), 1e-8, cap)


def alfamix_candidates(embeddings: jax.Array, kernel: jax.Array, bias: jax.Array,
                       anchors: jax.Array, budget: int, *, cap_step: float = 0.2,
                       mode: str = "closed_form", rng: jax.Array | None = None,
                       alpha_init=None, learning_rate: float = 0.1, l2_coef: float = 0.01,
                       learn_steps: int = 5) -> tuple[np.ndarray, list[np.ndarray]]:
  """The ALFA-Mix candidate mask over the unlabelled ``embeddings [U, D]`` and the per-cap flips.

  Args:
    embeddings: ``[U, D]`` unlabelled embeddings ``z``.
    kernel, bias: the linear head, ``logits = z @ kernel + bias`` (``kernel [D, C]``).
    anchors: ``[A, D]`` (see :func:`class_anchors`).
    budget: ``B``; the cap loop stops once there are more than ``B`` candidates.
    cap_step: the official ``--alpha_cap`` (0.2 in the paper's runs).
    mode: ``closed_form`` (``O(U·C·(D + A))`` per cap, via the shared direction ``ĝ``),
      ``learned`` or ``random`` (per-dimension ``α``: ``O(A·U·D·C)`` per cap and step).
    rng: key for the random ``α`` starts (``learned``/``random``).
    alpha_init: optional ``[K, A, U, D]`` starts to use instead (e.g. the official draws).

  Returns:
    ``(candidates [U] bool, [flips [U] bool for each cap tried])``.
  """
  if mode not in MODES:
    raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
  if cap_step <= 0:
    raise ValueError(f"cap_step must be > 0, got {cap_step}")
  z = jnp.asarray(embeddings, jnp.float32)
  kernel, bias, anchors = (jnp.asarray(x, jnp.float32) for x in (kernel, bias, anchors))
  logits, pred, velocity, distances = _closed_form_terms(z, kernel, bias, anchors)
  candidates = np.zeros(z.shape[0], bool)
  per_cap = []
  cap, iteration = 0.0, 0
  while cap < 1.0:
    cap += cap_step  # A cumulative float sum, as in the official loop.
    if mode == "closed_form":
      flips = _flips_closed_form(cap, z.shape[1], logits, pred, velocity, distances)
    else:
      flips = jnp.zeros(z.shape[0], bool)
      for i in range(anchors.shape[0]):
        if alpha_init is not None:
          start = jnp.asarray(alpha_init[iteration][i], jnp.float32)
        else:
          rng, sub = jax.random.split(rng)
          start = random_alpha(sub, cap, z.shape)
        flips = flips | _flips_mixing(start, z, anchors[i], kernel, bias, pred, cap,
                                      learn_steps if mode == "learned" else 0, learning_rate,
                                      l2_coef)
    per_cap.append(np.asarray(flips))
    candidates |= per_cap[-1]
    iteration += 1
    if candidates.sum() > budget:
      break
  return candidates, per_cap


def nearest_to_centres(features: np.ndarray, assignment: np.ndarray, centres: np.ndarray) -> np.ndarray:
  """For each non-empty cluster ``i`` in order, the member closest to ``centres[i]`` (squared
  Euclidean, first on ties): the official pick rule."""
  picks = []
  for i, centre in enumerate(centres):
    members = np.flatnonzero(assignment == i)
    if members.size:
      picks.append(members[np.argmin(((features[members] - centre) ** 2).sum(-1))])
  return np.asarray(picks, int)


def alfamix_select(seed: int, embeddings, candidates, budget: int) -> np.ndarray:
  """``budget`` distinct unlabelled positions: k-means (``min(B, #candidates)`` clusters, scikit-learn,
  k-means++) on the l2-normalised candidate embeddings, the member nearest each centre, then a random
  fill **without** replacement from the other unlabelled points (the official fill samples with
  replacement and can return duplicates; with zero candidates it crashes)."""
  from sklearn.cluster import KMeans

  embeddings = np.asarray(embeddings, np.float32)
  if budget > len(embeddings):
    raise ValueError(f"budget={budget} exceeds the {len(embeddings)} unlabelled points")
  positions = np.flatnonzero(candidates)
  chosen = np.zeros(0, int)
  if positions.size:
    feats = embeddings[positions]
    feats = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    k = min(budget, positions.size)
    kmeans = KMeans(n_clusters=k, random_state=seed, n_init=1).fit(feats)
    chosen = positions[nearest_to_centres(feats, kmeans.labels_, kmeans.cluster_centers_)]
  rest = np.setdiff1d(np.arange(len(embeddings)), chosen)
  fill = np.random.default_rng(seed).choice(rest, budget - chosen.size, replace=False)
  return np.concatenate([chosen, fill]).astype(int)
