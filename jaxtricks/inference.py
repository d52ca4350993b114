"""A trained run, used after training: :func:`load_run` gives its config, network, variables and class
names; ``predict`` (jitted, batched over every local device, the run's own input normalisation),
``predict_files`` (streamed runs: each image decoded and cropped as the evaluation did) and ``export``
(``jax.export``: serialized StableHLO with a symbolic batch dimension, which a process with only
``jax`` installed calls). :func:`evaluate` evaluates a run's checkpoint again, on its own test split or
another (``python -m jaxtricks.training --workdir=RUN --eval_only``).

  run = jaxtricks.load_run("runs/digits")          # which="best" with checkpoint keep_best
  logits = run.predict(test.images)                 # the same logits its evaluation computed
  run.export("exported/digits")                    # predict.jax + predict.json
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import time
from pathlib import Path
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxtricks.data import ArrayDataset, ImageDataset
from jaxtricks.data.images import decode_crop
from jaxtricks.models import create_model
from jaxtricks.paths import as_path
from jaxtricks.tasks import task_family
from jaxtricks.tasks.base import DTYPES, Pixels, Prediction
from jaxtricks.transfer import load_checkpoint

DATA_FILE = "data.json"  # What a run's examples look like: classes, class names, input shapes.
WHICH = ("last", "best")
EVAL_OVERRIDES = ("dataset.", "eval_pgd.", "eval_batch_size", "parallel", "progress")  # May change.


def data_record(train: ArrayDataset | ImageDataset, test: ArrayDataset | ImageDataset) -> dict[str, Any]:
  """``data.json`` of a run: the class count and names (streamed sources) and the shape and dtype of
  each field of one evaluation example (what ``predict`` takes)."""
  if isinstance(test, ImageDataset):
    fields = {"image": {"shape": [test.image_size, test.image_size, 3], "dtype": "uint8"}}
    names = list(test.source.classes)
    if test.relabel is not None:  # dataset.train_classes: the kept classes, in their new order.
      names = [names[c] for c in np.argsort(test.relabel) if test.relabel[c] >= 0]
    eval_crop = {"image_size": test.image_size, "eval_resize": test.eval_resize}
  else:
    example = test.fields(np.arange(1))
    fields = {k: {"shape": list(v.shape[1:]), "dtype": str(v.dtype)} for k, v in example.items()
              if k != "label"}
    names, eval_crop = None, None
  return {"num_classes": int(train.num_classes), "class_names": names, "fields": fields,
          "eval_crop": eval_crop}


@dataclasses.dataclass(frozen=True)
class Run:
  """A trained run: its ``config`` (``config.json``), the ``variables`` of one checkpoint (``step``),
  and what its data looked like (``data.json``: ``num_classes``, ``class_names``, input shapes)."""
  directory: Path
  config: ml_collections.ConfigDict
  variables: dict[str, Any]
  step: int
  data: dict[str, Any]

  @property
  def num_classes(self) -> int:
    return self.data["num_classes"]

  @property
  def class_names(self) -> list[str] | None:
    return self.data.get("class_names")

  @property
  def prediction(self) -> Prediction:
    """What :meth:`predict` returns (``.outputs`` says it in words) and how the family computes it."""
    return task_family(self.config.task).prediction(self.config, self.num_classes)

  def model(self, num_classes: int | None = None, dtype=jnp.float32) -> Any:
    """The run's network (for ``num_classes`` classes; default: the run's), as its family built it."""
    num_classes = self.num_classes if num_classes is None else num_classes
    size = task_family(self.config.task).output_size(self.config, num_classes)
    model = create_model(self.config.model, num_classes=size, dtype=dtype)
    wrap = self.prediction.wrap
    return wrap(model) if wrap else model

  def inference(self, num_classes: int | None = None):
    """``x ↦ (outputs, aux)`` of the run's network in inference mode (BN statistics, no dropout)."""
    model = self.model(num_classes, jnp.float32)
    return lambda x: model.apply(self.variables, x, train=False)

  @functools.cached_property
  def _predict_fn(self):
    """``(variables, *inputs) -> outputs``: normalisation of uint8 pixels, then the family's output."""
    model, prediction = self.model(dtype=DTYPES[self.config.dtype]), self.prediction
    pixels = Pixels.from_config(self.config)
    return lambda variables, image, *rest: prediction.apply(model, variables, pixels(image), *rest)

  @functools.cached_property
  def _on_devices(self):
    """The jitted prediction, its sharding of rows over every local device, and the variables
    replicated on them."""
    mesh = Mesh(np.asarray(jax.local_devices()), ("batch",))
    rows = NamedSharding(mesh, PartitionSpec("batch"))
    variables = jax.device_put(self.variables, NamedSharding(mesh, PartitionSpec()))
    return jax.jit(self._predict_fn, out_shardings=rows), rows, variables

  def predict(self, *inputs: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """The family's per-example output (:attr:`prediction`) for ``inputs`` (``[N, ...]`` arrays: the
    image, then the network's other inputs, e.g. the questions of a relational run).

    Images are what the run's evaluation took: an in-memory run's data set arrays (as
    ``build_datasets(run.config.dataset)`` returns them); a streamed run's uint8 crops of
    ``dataset.image_size`` (:meth:`predict_files` reads image files). Chunks of ``batch_size`` examples
    per local device run in one jitted call, so each device computes the same shapes whatever the
    device count, and the outputs do not depend on it."""
    names = self.prediction.inputs
    if len(inputs) != len(names):
      raise ValueError(f"predict takes {len(names)} input(s) {names} for task={self.config.task!r}, "
                       f"got {len(inputs)}")
    inputs = tuple(np.asarray(x) for x in inputs)
    for name, x in zip(names, inputs):
      expected = self.data["fields"].get(name)
      if expected and list(x.shape[1:]) != expected["shape"]:
        raise ValueError(f"predict's {name} must be [N, {', '.join(map(str, expected['shape']))}] as this "
                         f"run's data ({expected['dtype']}), got {list(x.shape)}")
    n = inputs[0].shape[0]
    if any(x.shape[0] != n for x in inputs):
      raise ValueError(f"predict's inputs must have one row per example, got {[x.shape[0] for x in inputs]}")
    step, rows, variables = self._on_devices
    chunk = batch_size * rows.mesh.size
    outputs = []
    for start in range(0, n, chunk):
      part = [x[start:start + chunk] for x in inputs]
      pad = chunk - part[0].shape[0]
      part = [np.concatenate([x, np.repeat(x[-1:], pad, 0)]) if pad else x for x in part]
      outputs.append(np.asarray(step(variables, *(jax.device_put(x, rows) for x in part)))[:chunk - pad])
    return np.concatenate(outputs) if outputs else np.zeros((0,))

  def predict_files(self, paths: Sequence[str | os.PathLike], *, batch_size: int = 64) -> np.ndarray:
    """:meth:`predict` of image files (JPEG, PNG, WebP), each decoded into the crop the run's evaluation
    took (shorter side to ``dataset.eval_resize``, the centre ``dataset.image_size``). Streamed runs
    only: an in-memory run's inputs were prepared by its data set's own code."""
    crop = self.data.get("eval_crop")
    if not crop:
      raise ValueError(f"predict_files needs a run trained on streamed images; dataset.source="
                       f"{self.config.dataset.source!r} was held in memory: use predict(images)")
    images = np.stack([decode_crop(as_path(p).read_bytes(), size=crop["image_size"],
                                   resize=crop["eval_resize"]) for p in paths])
    return self.predict(images, batch_size=batch_size)

  def export(self, directory: str | os.PathLike, *,
             platforms: Sequence[str] = ("cpu", "cuda", "tpu")) -> Path:
    """Writes ``predict.jax`` (:meth:`predict`'s function with these variables inside, serialized by
    ``jax.export``; the batch dimension is symbolic) and ``predict.json`` (its inputs and outputs).
    Any process with ``jax`` installed calls it, without jaxtricks or flax::

      exported = jax.export.deserialize(open("predict.jax", "rb").read())
      logits = exported.call(images)
    """
    directory = as_path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    variables, fn = self.variables, self._predict_fn
    names = self.prediction.inputs
    batch = jax.export.symbolic_shape("batch")[0]
    specs = [jax.ShapeDtypeStruct((batch, *self.data["fields"][k]["shape"]), self.data["fields"][k]["dtype"])
             for k in names]
    exported = jax.export.export(jax.jit(lambda *inputs: fn(variables, *inputs)),
                                 platforms=tuple(platforms))(*specs)
    (directory / "predict.jax").write_bytes(exported.serialize())
    contract = {"inputs": [{"name": k, "shape": ["batch", *self.data["fields"][k]["shape"]],
                            "dtype": self.data["fields"][k]["dtype"]} for k in names],
                "outputs": self.prediction.outputs, "class_names": self.class_names,
                "platforms": list(platforms), "task": self.config.task, "step": self.step,
                "run": str(self.directory)}
    (directory / "predict.json").write_text(json.dumps(contract, indent=2))
    return directory


def read_config(workdir: str | os.PathLike) -> ml_collections.ConfigDict:
  """The config a run recorded (``config.json``)."""
  path = as_path(workdir) / "config.json"
  if not path.exists():
    raise ValueError(f"{str(workdir)!r} holds no jaxtricks run (no config.json)")
  return ml_collections.ConfigDict(json.loads(path.read_text()))


def final_run(workdir: str | os.PathLike) -> tuple[Path, ml_collections.ConfigDict]:
  """``(directory, config)`` of the run whose model ``workdir`` trained: itself, or its last
  generation (self-distillation and Noisy Student with ``generations > 1``)."""
  workdir = as_path(workdir)
  config = read_config(workdir)
  block = task_family(config.task).GENERATIONS
  if block and config[block].generations > 1:
    workdir = workdir / f"generation_{config[block].generations}"
    config = read_config(workdir)
  return workdir, config


def _data(workdir: Path) -> dict[str, Any]:
  if (workdir / DATA_FILE).exists():
    return json.loads((workdir / DATA_FILE).read_text())
  final = workdir / "final_metrics.json"  # A run from before data.json: classes only.
  counts = json.loads(final.read_text()).get("train_class_counts") if final.exists() else None
  if counts is None:
    raise ValueError(f"{str(workdir)!r} records neither {DATA_FILE} nor final_metrics.json: is it a "
                     "finished jaxtricks run?")
  return {"num_classes": len(counts), "class_names": None, "fields": {}, "eval_crop": None}


def load_run(workdir: str | os.PathLike, *, which: str = "last") -> Run:
  """The run in ``workdir`` with the variables of its last checkpoint, or of the best one
  (``which="best"``: a run with ``keep_best``), on this process's first device."""
  if which not in WHICH:
    raise ValueError(f"which must be one of {WHICH}, got {which!r}")
  workdir, config = final_run(workdir)
  if which == "best" and not config.get("keep_best"):
    raise ValueError(f"which='best' needs a run trained with keep_best=METRIC; {str(workdir)!r} kept "
                     "only its last checkpoints")
  folder = "best_checkpoint" if which == "best" else "checkpoints"
  step, variables = load_checkpoint(workdir, folder)
  return Run(workdir, config, variables, step, _data(workdir))


def evaluate(workdir: str | os.PathLike, *, which: str = "last",
             overrides: dict[str, Any] | None = None) -> dict[str, Any]:
  """The run's evaluation again, of its last (or best) checkpoint, on the split its config (with
  ``overrides``: ``dataset.*``, ``eval_pgd.*``, ``eval_batch_size``, ``parallel``) builds. Writes
  only ``WORKDIR/eval_<timestamp>.json`` (process 0); prerequisite runs are loaded, never trained."""
  from jaxtricks.training.trainer import evaluate_checkpoint  # The trainer builds the task.
  if which not in WHICH:
    raise ValueError(f"which must be one of {WHICH}, got {which!r}")
  workdir, config = final_run(workdir)
  for key, value in (overrides or {}).items():
    if not key.startswith(EVAL_OVERRIDES) and key not in EVAL_OVERRIDES:
      raise ValueError(f"an evaluation takes overrides of {EVAL_OVERRIDES} only (the run's training "
                       f"settings are its own), got {key}")
    *sections, name = key.split(".")
    block = functools.reduce(lambda c, k: c[k], sections, config)
    if name not in block:
      raise ValueError(f"this run's config (task={config.task!r}) has no {key}")
    block[name] = value
  metrics = evaluate_checkpoint(config, workdir, which=which)
  record = {"step": metrics.pop("step"), "which": which, "overrides": overrides or {}, **metrics}
  if jax.process_index() == 0:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (workdir / f"eval_{stamp}.json").write_text(json.dumps(record, indent=2))
  return record

