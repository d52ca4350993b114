"""Transfer learning: load a trained jaxtricks run's variables into a model with a new head, then
freeze the backbone or fine-tune it with a smaller learning rate.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import optax
import orbax.checkpoint as ocp

from jaxtricks.models.layers import HEAD
from jaxtricks.paths import absolute


def load_variables(workdir: str | os.PathLike) -> dict[str, Any]:
  """``{"params", "batch_stats"}`` of the last checkpoint in ``workdir/checkpoints``, on this
  process's first device, whatever the devices and processes of the run that saved it."""
  return load_checkpoint(workdir)[1]


def load_checkpoint(workdir: str | os.PathLike, folder: str = "checkpoints") -> tuple[int, dict[str, Any]]:
  """``(step, {"params", "batch_stats"})`` of the latest checkpoint in ``workdir/folder``
  (``best_checkpoint``: the one kept by ``keep_best``); nothing is written."""
  directory = absolute(workdir) / folder
  if not directory.exists():
    raise ValueError(f"{workdir!s} holds no checkpoint (looked in {directory})")
  manager = ocp.CheckpointManager(directory, item_handlers=ocp.StandardCheckpointHandler(),
                                  options=ocp.CheckpointManagerOptions(create=False))
  step = manager.latest_step()
  if step is None:
    raise ValueError(f"{workdir!s} holds no checkpoint (looked in {directory})")
  device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  abstract = jax.tree.map(lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=device),
                          manager.item_metadata(step))
  restored = manager.restore(step, args=ocp.args.StandardRestore(abstract))
  manager.close()
  return step, {"params": restored["params"], "batch_stats": restored.get("batch_stats") or {}}


def _is_head(path) -> bool:
  """An output layer: the model's ``HEAD`` or one inside a submodule (GoogLeNet's auxiliary heads)."""
  return any(getattr(key, "key", None) == HEAD for key in path[:-1])


def transfer_variables(fresh: dict[str, Any], pretrained: dict[str, Any]) -> dict[str, Any]:
  """``fresh`` (a new model's initial variables) with every leaf outside the output ``HEAD`` taken
  from ``pretrained``. The head keeps its fresh initialisation, so its class count may differ; any
  other missing leaf or shape mismatch is an error naming the parameter."""
  flat_pretrained = {jax.tree_util.keystr(p): v
                     for p, v in jax.tree_util.tree_leaves_with_path(pretrained)}

  def take(path, leaf):
    if _is_head(path[1:]):
      return leaf
    name = jax.tree_util.keystr(path)
    if name not in flat_pretrained:
      raise ValueError(f"the pretrained checkpoint has no {name} (shape {leaf.shape}): "
                       "is it the same model?")
    value = flat_pretrained[name]
    if value.shape != leaf.shape:
      raise ValueError(f"shape mismatch for {name}: pretrained {value.shape}, model {leaf.shape}; "
                       "only the output head may change shape")
    return jax.numpy.asarray(value, leaf.dtype)

  return jax.tree_util.tree_map_with_path(take, fresh)


def backbone_labels(params: Any) -> Any:
  """``"head"`` for the output layer's parameters, ``"backbone"`` for every other leaf."""
  return jax.tree_util.tree_map_with_path(lambda p, _: "head" if _is_head(p) else "backbone", params)


def transfer_optimizer(tx: optax.GradientTransformation, *, freeze_backbone: bool,
                       backbone_lr_factor: float) -> optax.GradientTransformation:
  """``tx`` for the head; for the backbone either nothing (``optax.set_to_zero``: frozen) or ``tx``
  scaled by ``backbone_lr_factor`` (discriminative fine-tuning), via ``optax.multi_transform``."""
  if freeze_backbone:
    backbone = optax.set_to_zero()
  elif backbone_lr_factor != 1.0:
    if backbone_lr_factor < 0:
      raise ValueError(f"transfer.backbone_lr_factor must be >= 0, got {backbone_lr_factor}")
    backbone = optax.chain(tx, optax.scale(backbone_lr_factor))
  else:
    return tx
  return optax.multi_transform({"head": tx, "backbone": backbone}, backbone_labels)
