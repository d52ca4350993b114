"""Flax linen models: CIFAR ResNets with Bag-of-Tricks options, GoogLeNet with auxiliary classifiers,
small nets for 8×8 digits, PReLU/He init."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import ml_collections

from jaxtricks.models.inception import GoogLeNet
from jaxtricks.models.infomax import DeepInfoMax
from jaxtricks.models.layers import ChannelPReLU, he_normal, prior_bias_init
from jaxtricks.models.multitask import MixtureOfExperts, MultiTaskNet, shared_bottom_units
from jaxtricks.models.relational import RelationalQA
from jaxtricks.models.resnet import ResNet
from jaxtricks.models.small import MLP, SmallCNN

MODELS = {"resnet": ResNet, "cnn": SmallCNN, "mlp": MLP, "dim": DeepInfoMax, "multitask": MultiTaskNet,
          "relational": RelationalQA, "googlenet": GoogLeNet}


def create_model(config: ml_collections.ConfigDict, *, num_classes: int, dtype: Any,
                 axis_name: str | None = "batch") -> nn.Module:
  """Builds ``MODELS[config.name]`` from the other fields of the ``model`` config block
  (``embedding_dim`` is read by the trainer: the output size of metric-learning models)."""
  if config.name not in MODELS:
    raise ValueError(f"model.name must be one of {sorted(MODELS)}, got {config.name!r}")
  kwargs = {k: v for k, v in config.items() if k not in ("name", "embedding_dim")}
  try:
    return MODELS[config.name](num_classes=num_classes, dtype=dtype, axis_name=axis_name, **kwargs)
  except TypeError as e:
    raise ValueError(f"model.name={config.name!r} does not accept these model options: {e}") from None
