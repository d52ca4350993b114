"""Where a run's logged values go. Process 0 writes ``metrics.jsonl`` and TensorBoard events always,
Weights & Biases when ``wandb.project`` is set (``pip install 'jaxtricks[wandb]'``), and any writer
passed as ``fit(..., writers=[...])``.

A writer has ``write(step, metrics)`` (the values logged at ``step``: scalars, and lists such as the
per-class recall) and ``close()``; the train and the evaluation records of one step come as two
calls with the same ``step``.
"""

from __future__ import annotations

import json
import secrets
from typing import Any, Protocol

import ml_collections
import numpy as np
import tensorboardX
import tensorboardX.record_writer

from jaxtricks.paths import as_path, is_url


class Writer(Protocol):
  def write(self, step: int, metrics: dict[str, Any]) -> None:
    ...

  def close(self) -> None:
    ...


def scalars(metrics: dict[str, Any]) -> dict[str, float]:
  """The scalar values of ``metrics`` (lists such as the per-class recall left out)."""
  return {k: float(v) for k, v in metrics.items() if np.ndim(v) == 0 and not isinstance(v, str)}


class JsonLines:
  """``WORKDIR/metrics.jsonl``: one ``{"step": ..., **metrics}`` object per line. On resume the records
  of steps after ``resume_step`` (which the run takes again) are dropped. Behind a URL, where an object
  store cannot append, the file is written whole after each record."""

  def __init__(self, workdir, resume_step: int):
    self.path = as_path(workdir) / "metrics.jsonl"
    self.kept = ""
    if self.path.exists():
      lines = self.path.read_text().splitlines()
      kept = [line for line in lines if line.strip() and json.loads(line)["step"] <= resume_step]
      self.kept = "".join(line + "\n" for line in kept)
      self.path.write_text(self.kept)

  def write(self, step: int, metrics: dict[str, Any]) -> None:
    line = json.dumps({"step": step, **metrics}) + "\n"
    if is_url(self.path):
      self.kept += line
      self.path.write_text(self.kept)
    else:
      with self.path.open("a") as f:
        f.write(line)

  def close(self) -> None:
    pass


class _UrlEventFile:
  """A TensorBoard event file behind a URL (``gs://``, ``s3://``, ``az://``) through ``etils.epath``:
  object stores have no append, so each flush writes the whole (small: scalars only) file again."""

  def __init__(self, path: str):
    self.path, self.data = as_path(path), bytearray()

  def write(self, data: bytes) -> None:
    self.data += data

  def flush(self) -> None:
    self.path.write_bytes(bytes(self.data))

  def close(self) -> None:
    self.flush()


class _UrlEventFiles:
  """tensorboardX's writer factory protocol (``open``, ``directory_check``) for URL log directories."""

  def open(self, path: str) -> _UrlEventFile:
    return _UrlEventFile(path)

  def directory_check(self, path: str) -> None:
    as_path(path).mkdir(parents=True, exist_ok=True)


class TensorBoard:
  """Scalars in ``WORKDIR/tb`` (``tensorboard --logdir WORKDIR``)."""

  def __init__(self, workdir):
    if is_url(workdir):  # tensorboardX's own gs:// writer needs google-cloud-storage; epath reaches any.
      tensorboardX.record_writer.register_writer_factory(str(workdir).partition(":")[0], _UrlEventFiles())
    self.tb = tensorboardX.SummaryWriter(str(as_path(workdir) / "tb"))

  def write(self, step: int, metrics: dict[str, Any]) -> None:
    for key, value in scalars(metrics).items():
      self.tb.add_scalar(key, value, step)
    self.tb.flush()

  def close(self) -> None:
    self.tb.close()


def wandb_block() -> ml_collections.ConfigDict:
  w = ml_collections.ConfigDict()
  w.project = ""  # Log to this Weights & Biases project too (process 0; WANDB_MODE=offline works).
  w.entity = ""  # The W&B team or user; empty: your default.
  w.name = ""  # The W&B run's display name; empty: the workdir's name.
  return w


class WeightsAndBiases:
  """A Weights & Biases run with the run's config; its id is kept in ``WORKDIR/wandb_id``, so a
  resumed run logs into the same W&B run. Local workdirs keep W&B's files in ``WORKDIR/wandb``."""

  def __init__(self, config: ml_collections.ConfigDict, workdir):
    import wandb  # An optional dependency (check_config names it when it is missing).

    workdir = as_path(workdir)
    id_file = workdir / "wandb_id"
    if not id_file.exists():
      id_file.write_text(secrets.token_hex(8))
    files = None
    if not is_url(workdir):
      files = workdir / "wandb"
      files.mkdir(exist_ok=True)
    w = config.wandb
    self.run = wandb.init(project=w.project, entity=w.entity or None, name=w.name or workdir.name,
                          id=id_file.read_text().strip(), resume="allow", config=config.to_dict(),
                          dir=str(files) if files else None, reinit="create_new")

  def write(self, step: int, metrics: dict[str, Any]) -> None:
    self.run.log(scalars(metrics), step=step)

  def close(self) -> None:
    self.run.finish()


def default_writers(config: ml_collections.ConfigDict, workdir, resume_step: int) -> list[Writer]:
  """The writers of process 0 for ``config``'s run in ``workdir``."""
  writers: list[Writer] = [JsonLines(workdir, resume_step), TensorBoard(workdir)]
  if config.wandb.project:
    writers.append(WeightsAndBiases(config, workdir))
  return writers
