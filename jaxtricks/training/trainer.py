"""The fit loop: the time axis of a run. The task (``jaxtricks.tasks``) owns the model, the step and
the evaluators; the loop owns data order, the parallel path (mesh or pmap), logging, the evaluation
schedule, checkpoints, resume and the NaN stop.

A run lives in its ``workdir`` (a local path or a URL such as ``gs://bucket/run``): ``config.json``,
``metrics.jsonl`` (one JSON object per logged step), TensorBoard events in ``tb/``, orbax checkpoints
in ``checkpoints/`` and PNG plots. Calling :func:`fit` again on the same workdir with the same config
resumes from the last checkpoint and reproduces the steps an uninterrupted run would have taken; another
config is refused before anything is written, and two runs cannot share a workdir
(``jaxtricks.training.workdir``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Any

import jax
import ml_collections
import numpy as np
import tensorboardX
import tensorboardX.record_writer
import tqdm

from jaxtricks.data import ArrayDataset, ImageDataset, build_datasets
from jaxtricks.data.build import check_given_datasets
from jaxtricks.parallel import DataParallel
from jaxtricks.tasks import TASKS, task_family
from jaxtricks.tasks.base import Batches, Data, Task
from jaxtricks.training import plots
from jaxtricks.training.checkpoints import Checkpoints
from jaxtricks.training.config import check_config
from jaxtricks.training.runs import Runs, fit_generations, generations_block
from jaxtricks.paths import as_path, is_url
from jaxtricks.training.workdir import check_workdir, hold


def maybe_initialize_distributed(config: ml_collections.ConfigDict) -> None:
  """``jax.distributed.initialize`` for multi-process runs (``distributed.enabled`` or
  ``JAXTRICKS_DISTRIBUTED=1``); it must run before any JAX computation.

  With ``distributed.coordinator_address`` empty JAX detects the cluster (TPU pods, Slurm, Open MPI);
  otherwise every process is started with the same address and ``num_processes`` and its own
  ``process_id``. Setting any of those three enables it too (a process given them would otherwise train
  alone). CPU processes exchange collectives over gloo.
  """
  d = config.distributed
  asked = d.enabled or d.coordinator_address or d.num_processes > 1 or d.process_id  # Flags act.
  if not (asked or os.environ.get("JAXTRICKS_DISTRIBUTED") == "1") or jax.distributed.is_initialized():
    return
  kwargs = {}
  if d.coordinator_address:
    if not 0 <= d.process_id < d.num_processes:
      raise ValueError(f"distributed.process_id must be in [0, distributed.num_processes="
                       f"{d.num_processes}), got {d.process_id}")
    kwargs = dict(coordinator_address=d.coordinator_address, num_processes=d.num_processes,
                  process_id=d.process_id)
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(**kwargs)


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


class _MetricWriter:
  """Appends records to ``metrics.jsonl`` and TensorBoard (process 0 only). Behind a URL, where an
  object store cannot append, the file is written whole after each record."""

  def __init__(self, workdir, resume_step: int, enabled: bool):
    self.enabled = enabled
    if not enabled:
      return
    self.path = workdir / "metrics.jsonl"
    self.kept = ""
    if self.path.exists():  # Drop records of steps that the resumed run will redo.
      lines = self.path.read_text().splitlines()
      kept = [line for line in lines if line.strip() and json.loads(line)["step"] <= resume_step]
      self.kept = "".join(line + "\n" for line in kept)
      self.path.write_text(self.kept)
    if is_url(workdir):  # tensorboardX's own gs:// writer needs google-cloud-storage; epath reaches any.
      tensorboardX.record_writer.register_writer_factory(str(workdir).partition(":")[0], _UrlEventFiles())
    self.tb = tensorboardX.SummaryWriter(str(workdir / "tb"))

  def write(self, record: dict[str, Any]) -> None:
    if not self.enabled:
      return
    line = json.dumps(record) + "\n"
    if is_url(self.path):
      self.kept += line
      self.path.write_text(self.kept)
    else:
      with self.path.open("a") as f:
        f.write(line)
    for key, value in record.items():
      if key != "step" and np.ndim(value) == 0:
        self.tb.add_scalar(key, value, record["step"])
    self.tb.flush()

  def close(self) -> None:
    if self.enabled:
      self.tb.close()


def _check_finite(pending: list[tuple[int, dict]], checkpoints: Checkpoints) -> list[dict]:
  """Fetches the pending step metrics; raises on the first non-finite ``*loss``, naming the step."""
  fetched = jax.device_get(pending)
  for step, metrics in fetched:
    for key, value in metrics.items():
      if key.endswith("loss") and not np.isfinite(value):
        last = checkpoints.latest_step()
        kept = (f"The last good checkpoint (step {last}) is kept in {checkpoints.directory}"
                if last is not None else "No checkpoint had been saved yet")
        raise FloatingPointError(f"training {key} is {value} at step {step}; stopping. {kept}")
  return [m for _, m in fetched]


MAX_STEPS_IN_FLIGHT = 2  # Dispatched ahead of the finished ones: enough to keep an accelerator busy;
# an unbounded queue of small steps can deadlock XLA:CPU's collectives across many host devices.


def _train(config, batches, state, p_train, run_eval, checkpoints: Checkpoints,
           writer: _MetricWriter, num_devices: int) -> tuple[Any, dict[str, Any]]:
  """Steps from ``state.step`` to the end: logs every ``log_every_steps``, evaluates every
  ``eval_every_epochs`` and checkpoints every ``checkpoint_every_steps`` (and at the last step)."""
  steps_per_epoch = batches.steps_per_epoch
  total_steps = config.train.num_epochs * steps_per_epoch
  start_step = int(state.step)
  eval_every = max(1, int(config.eval_every_epochs * steps_per_epoch))
  pending: list[tuple[int, dict]] = []
  progress = tqdm.tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True,
                       disable=not (config.progress and writer.enabled),
                       desc=f"train ({num_devices} dev)")
  t_last, step_last = time.perf_counter(), start_step
  summary: dict[str, Any] = {}
  skipped_files = getattr(batches.dataset, "skipped_files", None)  # Streamed images only.
  try:
    for step, batch in enumerate(batches.iterate(start_step, total_steps), start_step):
      state, metrics = p_train(state, batch)
      pending.append((step + 1, metrics))
      if len(pending) > MAX_STEPS_IN_FLIGHT:
        jax.block_until_ready(pending[-1 - MAX_STEPS_IN_FLIGHT][1])
      progress.update(1)
      done = step + 1
      is_last = done == total_steps
      if done % config.log_every_steps == 0 or is_last:
        fetched = _check_finite(pending, checkpoints)
        pending = []
        now = time.perf_counter()
        record = {"step": done, "epoch": done / steps_per_epoch,
                  **{f"train/{k}": float(np.mean([m[k] for m in fetched])) for k in fetched[0]},
                  "examples_per_sec": (done - step_last) * config.train.batch_size / (now - t_last)}
        if skipped_files is not None:
          record["train/skipped_files"] = len(skipped_files())
        t_last, step_last = now, done
        writer.write(record)
        progress.set_postfix(loss=f"{record['train/loss']:.4f}",
                             ex_per_s=f"{record['examples_per_sec']:.0f}")
      if done % eval_every == 0 or is_last:
        started = time.perf_counter()
        summary = run_eval(state)
        writer.write({"step": done, "epoch": done / steps_per_epoch, **summary})
        t_last += time.perf_counter() - started  # examples_per_sec counts training time only.
      if done % config.checkpoint_every_steps == 0 or is_last:
        _check_finite(pending, checkpoints)
        checkpoints.save(done, state)
  finally:
    progress.close()
    checkpoints.close()
    writer.close()
  return state, summary


def train(config: ml_collections.ConfigDict, workdir, batches: Batches, state: Any,
          p_train, run_eval, parallel: DataParallel) -> tuple[Any, dict[str, Any]]:
  """The loop of :func:`fit` on a built step: places the host ``state`` on the devices, restores the
  last checkpoint of ``workdir`` if any (resume), trains to the end of ``config``'s schedule over
  ``batches`` with ``p_train`` (``parallel.step`` of a task's step), logging, evaluating with
  ``run_eval`` and checkpointing; ``(state, last evaluation)``."""
  lead = jax.process_index() == 0
  state = parallel.replicate(state)
  checkpoints = Checkpoints(workdir / "checkpoints", max_to_keep=config.keep_checkpoints,
                            parallel=parallel)
  if checkpoints.latest_step() is not None:
    state = checkpoints.restore(state)
  if lead:
    (workdir / "config.json").write_text(config.to_json_best_effort(indent=2))
  writer = _MetricWriter(workdir, int(state.step), enabled=lead)
  state, summary = _train(config, batches, state, p_train, run_eval, checkpoints, writer,
                          parallel.device_count)
  if not summary:  # Resumed a finished run: nothing was trained, evaluate once more.
    summary = run_eval(state)
  return state, summary


def _log_skipped_files(config, datasets, workdir):
  """Streamed splits list the images they skip in ``WORKDIR/skipped_files/`` (a file per host and
  process); a family that does
  not take them (``STREAMED_IMAGES``) is refused."""
  if not any(isinstance(d, ImageDataset) for d in datasets):
    return datasets
  if not task_family(config.task).STREAMED_IMAGES:
    streaming = sorted(name for name, family in TASKS.items() if family.STREAMED_IMAGES)
    raise ValueError(f"dataset.source={config.dataset.source!r} streams images; task={config.task!r} "
                     f"needs an in-memory data set (tasks that stream: {streaming})")
  log = str(workdir / "skipped_files")
  return tuple(dataclasses.replace(d, bad_file_log=log) if isinstance(d, ImageDataset) else d
               for d in datasets)


def fit(config: ml_collections.ConfigDict, workdir: str | os.PathLike, *,
        datasets: tuple[ArrayDataset | ImageDataset, ArrayDataset | ImageDataset] | None = None,
        datasets_from_config: bool = False) -> tuple[dict[str, Any], Any]:
  """Trains ``config`` in ``workdir`` (resuming if it holds a checkpoint of the same config).

  Returns ``(final_metrics, state)``; the metrics are also written to ``workdir/final_metrics.json``.

  ``datasets`` = ``(train, test)`` overrides ``config.dataset`` (handy from notebooks and tests): they
  are used as they are, so the dataset options that subset or split (``train_classes``, ``val_fraction``,
  ``imbalance_factor``, ...) are refused with them, unless ``datasets_from_config`` says they were
  built from ``config.dataset`` (``build_datasets``, then perhaps a subset). Everything is checked
  before anything is written: the config's keys and values, the workdir's recorded config, that no other
  run holds the workdir.
  """
  if "active" in config:
    raise ValueError("the config has an active block: an active-learning recipe runs with "
                     "python -m jaxtricks.active --config=NAME")
  maybe_initialize_distributed(config)
  check_config(config)
  check_workdir(config, workdir)
  family = task_family(config.task)
  if datasets is not None and not datasets_from_config:
    check_given_datasets(config.dataset)
  if datasets is None:
    datasets = build_datasets(config.dataset)
  for split, dataset in zip(("training", "test"), datasets):
    if not len(dataset):
      raise ValueError(f"the {split} split is empty")
  workdir = as_path(workdir)
  lead = jax.process_index() == 0
  workdir.mkdir(parents=True, exist_ok=True)
  with hold(workdir, enabled=lead):
    return _fit(config, workdir, datasets, family, lead)


def _fit(config, workdir, datasets, family, lead: bool) -> tuple[dict[str, Any], Any]:
  datasets = _log_skipped_files(config, datasets, workdir)
  block = generations_block(config)
  if block and config[block].generations > 1:
    return fit_generations(fit, config, workdir, datasets)
  data = Data(*datasets)
  task: Task = family.from_config(config, data, Runs(workdir, fit, datasets))
  parallel = DataParallel(config.parallel)
  p_train = parallel.step(task.train_step, donate_state=True)
  evaluators = task.evaluators(data.test, batch_size=config.eval_batch_size, parallel=parallel)
  run_eval = lambda state: {k: v for e in evaluators for k, v in e.run(state).items()}  # noqa: E731
  state, summary = train(config, workdir, task.batches, task.init(config.seed), p_train, run_eval,
                         parallel)
  train_counts = task.batches.dataset.class_counts().tolist()  # What it trained on (the labelled part).
  if lead:
    plots.save_run_plots(workdir, train_counts)
  final = {"step": int(state.step), **summary, "train_class_counts": train_counts,
           "workdir": str(workdir),
           "artifacts": sorted({p.name for p in workdir.iterdir() if not p.name.startswith(".")}
                               | {"final_metrics.json"})}
  if lead:
    (workdir / "final_metrics.json").write_text(json.dumps(final, indent=2))
  return final, state
