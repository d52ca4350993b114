"""The long-tail methods as changes to a plain-ERM recipe, written once for the digits and the CIFAR-10
recipes (``configs/digits_lt_<method>.py``, ``configs/cifar10_lt_<method>.py``)."""

from __future__ import annotations

from typing import Callable

import ml_collections

from jaxtricks.training.config import sibling_config

BETA = 0.9999  # The Class-Balanced loss paper's β for CIFAR-10 (effective number of samples).
METHODS = ("cb_softmax", "cb_sigmoid", "cb_focal", "drw", "oversample", "smote", "m2m", "logit_adjust",
           "erm_mixup", "logit_adjust_mixup")


def long_tail_method(c: ml_collections.ConfigDict, method: str, *,
                     no_bias_decay: bool = False) -> ml_collections.ConfigDict:
  """``c`` (a long-tailed plain-ERM recipe) changed into ``method``:

  * ``cb_softmax`` / ``cb_sigmoid`` / ``cb_focal``: class-balanced weights ``(1 − β)/(1 − β^{n_y})``
    (Cui et al., CVPR 2019) on softmax / sigmoid / focal (γ = 1) losses; the sigmoid losses start the
    head's bias at ``−log(C − 1)`` and, with ``no_bias_decay`` (the CB code's CIFAR setting), do not
    decay biases;
  * ``drw``: ERM, then the class-balanced softmax weights from the first LR decay (Cao et al., 2019);
  * ``oversample`` / ``smote``: a class-balanced training stream (SMOTE with k = 5 neighbours);
  * ``m2m``: M2m translation from the first LR decay on (Kim et al., CVPR 2020);
  * ``logit_adjust``: τ = 1 (Menon et al., ICLR 2021; = Balanced Softmax);
  * ``erm_mixup`` / ``logit_adjust_mixup``: mixup α = 0.2 for twice the epochs (and the LR decays).
  """
  if method not in METHODS:
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")
  if method in ("cb_softmax", "cb_sigmoid", "cb_focal", "drw"):
    c.loss.class_balanced_beta = BETA
  if method in ("cb_sigmoid", "cb_focal"):
    c.loss.type = method.removeprefix("cb_")
    c.loss.gamma = 1.0 if method == "cb_focal" else 0.0
    c.model[c.model.name].prior_bias = True
    c.optim.no_bias_decay = no_bias_decay
  if method == "drw":
    c.loss.reweight_from_epoch = c.optim.decay_epochs[0]
  if method in ("oversample", "smote"):
    c.dataset.update(resample=method, smote_k=5)
  if method == "m2m":
    c.m2m.update(enabled=True, from_epoch=c.optim.decay_epochs[0])
  if method.startswith("logit_adjust"):
    c.loss.logit_adjustment = 1.0
  if method.endswith("mixup"):  # Mixup needs longer training to fit.
    c.train.mixup_alpha = 0.2
    c.train.num_epochs *= 2
    c.optim.decay_epochs = tuple(2 * e for e in c.optim.decay_epochs)
  return c


def long_tail_recipe(file: str, base: str, method: str,
                     **options) -> Callable[[str | None], ml_collections.ConfigDict]:
  """A recipe's ``get_config``: the recipe ``base`` next to ``file`` (with its ``:arg``), changed into
  ``method`` by :func:`long_tail_method` (``options``: its keywords)."""

  def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    return long_tail_method(sibling_config(file, base, arg), method, **options)

  return get_config
