"""Flax linen models: CIFAR ResNets with Bag-of-Tricks options, GoogLeNet with auxiliary classifiers,
small nets for 8×8 digits, PReLU/He init. Every model returns ``(outputs, aux)``."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from typing import Any

import flax.linen as nn
import ml_collections

from jaxtricks.models.inception import GoogLeNet
from jaxtricks.models.infomax import DeepInfoMax
from jaxtricks.models.layers import ChannelPReLU, ModelOutput, aux_output, he_normal, prior_bias_init
from jaxtricks.models.multitask import MixtureOfExperts, MultiTaskNet, shared_bottom_units
from jaxtricks.models.relational import RelationalQA
from jaxtricks.models.resnet import ResNet
from jaxtricks.models.small import MLP, SmallCNN

MODELS = {"resnet": ResNet, "cnn": SmallCNN, "mlp": MLP, "dim": DeepInfoMax, "multitask": MultiTaskNet,
          "relational": RelationalQA, "googlenet": GoogLeNet}
SET_BY_THE_TASK = ("num_classes", "dtype", "axis_name", "parent", "name")  # Not model options.
# Head options that a recipe's loss relies on (CB focal's prior bias, metric learning's unit embeddings):
# set in a built-in model's block, they are carried to a model of your own that declares the field, and
# refused (named) when it does not. The other options of built-in blocks shape those models only.
HEAD_OPTIONS = ("prior_bias", "l2_normalize")


def model_config() -> ml_collections.ConfigDict:
  """The ``model`` config block: ``name`` (a key of ``MODELS``, or ``"package.module:Class"`` for a
  model of your own), the output size of feature networks (``embedding_dim``: metric learning,
  RPL/ARPL, Deep InfoMax's code), one block of options per model, ``model.<name>``, with the module's
  own defaults, and ``model.options``, the keyword arguments of a model named by import path. A recipe
  changes networks by naming one: ``c.model.name = "cnn"; c.model.cnn.width = 16``."""
  c = ml_collections.ConfigDict()
  c.name = "resnet"
  c.embedding_dim = 64
  for name, module in MODELS.items():
    c[name] = {f.name: f.default for f in dataclasses.fields(module) if f.name not in SET_BY_THE_TASK}
  c.options = ml_collections.ConfigDict()
  return c


class OwnModel(nn.Module):
  """A model of your own in the ``(outputs, aux)`` convention: ``module(*inputs, train=train)`` may
  return its outputs alone (then ``aux`` is empty) or the pair. ``dtype`` and ``axis_name`` are the
  run's (what a family reads off every model)."""
  module: nn.Module
  dtype: Any = None
  axis_name: str | None = None

  def __call__(self, *inputs, train: bool) -> ModelOutput:
    out = self.module(*inputs, train=train)
    return out if isinstance(out, tuple) else (out, {})


def import_model(path: str, *, options: dict[str, Any] | None = None,
                 carried: dict[str, tuple[str, Any]] | None = None, **given: Any) -> nn.Module:
  """The class ``"package.module:Class"`` names, checked for what every family gives a model (a
  linen ``Module`` with a ``num_classes`` field whose ``__call__`` takes ``train=``) and built with
  the ``given`` arguments it has fields for (``num_classes``, and ``dtype`` / ``axis_name`` where it
  declares them) plus ``options`` (each one a field) and the ``carried`` head options (``option ->
  (dotted key, value)``, refused naming the key when the class has no such field)."""
  options, carried = dict(options or {}), carried or {}
  module_name, _, attr = path.partition(":")
  try:
    cls = getattr(importlib.import_module(module_name), attr)
  except (ImportError, AttributeError) as e:
    raise ValueError(f"model.name={path!r}: cannot import {attr!r} from {module_name!r} ({e})") from e
  if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
    raise ValueError(f"model.name={path!r} is not a flax.linen.Module subclass")
  fields = {f.name for f in dataclasses.fields(cls)}
  if "num_classes" not in fields:
    raise ValueError(f"model.name={path!r} needs a num_classes field: the task sets the output size")
  if "train" not in inspect.signature(cls.__call__).parameters:
    raise ValueError(f"model.name={path!r}: __call__ must take a train= argument (dropout, BatchNorm)")
  for name, (key, value) in carried.items():
    if name in options:  # model.options says it for this model.
      continue
    if name not in fields:
      helper = "prior_bias_init" if name == "prior_bias" else "output_head"
      raise ValueError(f"{key}={value!r} is set (the recipe's loss relies on it), but model.name={path!r} "
                       f"has no {name} field to act on it: declare one (see jaxtricks.models.{helper}) "
                       f"or set {key}={not value}")
    options[name] = value
  unknown = sorted(set(options) - fields)
  if unknown:
    raise ValueError(f"model.options {unknown} are not fields of model.name={path!r}")
  return cls(**{k: v for k, v in given.items() if k in fields}, **options)


def _head_options(config: ml_collections.ConfigDict) -> dict[str, tuple[str, Any]]:
  """The :data:`HEAD_OPTIONS` switched on in a built-in model's block (by a recipe): ``option ->
  (its dotted key, value)``, for a model named by import path (:func:`import_model`)."""
  return {key: (f"model.{name}.{key}", config[name][key]) for name in MODELS for key in HEAD_OPTIONS
          if config.get(name, {}).get(key)}


def create_model(config: ml_collections.ConfigDict, *, num_classes: int, dtype: Any,
                 axis_name: str | None = "batch") -> nn.Module:
  """``MODELS[config.name]`` with the options of its block ``config.<name>``, or the class that
  ``config.name = "package.module:Class"`` names with ``config.options`` (see :func:`import_model`);
  every model returns ``(outputs, aux)`` (see :data:`jaxtricks.models.layers.ModelOutput`)."""
  if ":" in config.name:
    own = import_model(config.name, num_classes=num_classes, dtype=dtype, axis_name=axis_name,
                       options=config.get("options", {}), carried=_head_options(config))
    return OwnModel(own, dtype=dtype, axis_name=axis_name)
  if config.name not in MODELS:
    raise ValueError(f"model.name must be one of {sorted(MODELS)} or 'package.module:Class', "
                     f"got {config.name!r}")
  if config.name not in config:
    raise ValueError(f"the model config has no block model.{config.name} (start from base_config())")
  return MODELS[config.name](num_classes=num_classes, dtype=dtype, axis_name=axis_name,
                             **config[config.name])
