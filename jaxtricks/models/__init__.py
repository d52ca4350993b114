"""Flax linen models: CIFAR ResNets with Bag-of-Tricks options, GoogLeNet with auxiliary classifiers,
small nets for 8×8 digits, PReLU/He init. Every model returns ``(outputs, aux)``."""

from __future__ import annotations

import dataclasses
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


def model_config() -> ml_collections.ConfigDict:
  """The ``model`` config block: ``name`` (a key of ``MODELS``), the output size of feature
  networks (``embedding_dim``: metric learning, RPL/ARPL, Deep InfoMax's code) and one block of
  options per model, ``model.<name>``, with the module's own defaults. A recipe changes networks by
  naming one: ``c.model.name = "cnn"; c.model.cnn.width = 16``."""
  c = ml_collections.ConfigDict()
  c.name = "resnet"
  c.embedding_dim = 64
  for name, module in MODELS.items():
    c[name] = {f.name: f.default for f in dataclasses.fields(module) if f.name not in SET_BY_THE_TASK}
  return c


def create_model(config: ml_collections.ConfigDict, *, num_classes: int, dtype: Any,
                 axis_name: str | None = "batch") -> nn.Module:
  """``MODELS[config.name]`` with the options of its block ``config.<name>``; every model returns
  ``(outputs, aux)`` (see :data:`jaxtricks.models.layers.ModelOutput`)."""
  if config.name not in MODELS:
    raise ValueError(f"model.name must be one of {sorted(MODELS)}, got {config.name!r}")
  if config.name not in config:
    raise ValueError(f"the model config has no block model.{config.name} (start from base_config())")
  return MODELS[config.name](num_classes=num_classes, dtype=dtype, axis_name=axis_name,
                             **config[config.name])
