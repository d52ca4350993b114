"""The fit loop: the time axis of a run. The task (``jaxtricks.tasks``) owns the model, the step and
the evaluators; the loop owns data order, the parallel path (mesh or pmap), logging, the evaluation
schedule, checkpoints, resume and the NaN stop.

A run lives in its ``workdir`` (a local path or a URL such as ``gs://bucket/run``): ``config.json``,
``data.json`` (classes and input shapes), ``metrics.jsonl`` (one JSON object per logged step),
TensorBoard events in ``tb/``, orbax checkpoints in ``checkpoints/`` (and ``best_checkpoint/`` with
``keep_best``) and PNG plots (``jaxtricks.training.writers``: where else records go). Calling
:func:`fit` again on the same workdir with the same config resumes from the last checkpoint and
reproduces the steps an uninterrupted run would have taken; another config is refused before anything
is written, and two runs cannot share a workdir (``jaxtricks.training.workdir``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import time
from typing import Any, Sequence

import jax
import ml_collections
import numpy as np
import tqdm

from jaxtricks.data import ArrayDataset, ImageDataset, build_datasets
from jaxtricks.data.build import check_given_datasets
from jaxtricks.inference import DATA_FILE, data_record
from jaxtricks.parallel import DataParallel
from jaxtricks.paths import as_path
from jaxtricks.tasks import TASKS, task_family
from jaxtricks.tasks.base import Batches, Data, Task
from jaxtricks.training import plots
from jaxtricks.training.checkpoints import BEST, BestCheckpoint, Checkpoints
from jaxtricks.training.config import check_config
from jaxtricks.training.runs import Runs, fit_generations, generations_block
from jaxtricks.training.workdir import check_workdir, hold
from jaxtricks.training.writers import Writer, default_writers


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


def _train(config, batches, state, p_train, run_eval, checkpoints: Checkpoints, best: BestCheckpoint | None,
           writers: Sequence[Writer], num_devices: int) -> tuple[Any, dict[str, Any]]:
  """Steps from ``state.step`` to the end: logs every ``log_every_steps``, evaluates every
  ``eval_every_epochs`` (offering the state to ``best``) and checkpoints every
  ``checkpoint_every_steps`` (and at the last step)."""
  steps_per_epoch = batches.steps_per_epoch
  total_steps = config.train.num_epochs * steps_per_epoch
  start_step = int(state.step)
  eval_every = max(1, int(config.eval_every_epochs * steps_per_epoch))
  pending: list[tuple[int, dict]] = []
  progress = tqdm.tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True,
                       disable=not (config.progress and jax.process_index() == 0),
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
        record = {"epoch": done / steps_per_epoch,
                  **{f"train/{k}": float(np.mean([m[k] for m in fetched])) for k in fetched[0]},
                  "examples_per_sec": (done - step_last) * config.train.batch_size / (now - t_last)}
        if skipped_files is not None:
          record["train/skipped_files"] = len(skipped_files())
        t_last, step_last = now, done
        _write(writers, done, record)
        progress.set_postfix(loss=f"{record['train/loss']:.4f}",
                             ex_per_s=f"{record['examples_per_sec']:.0f}")
      if done % eval_every == 0 or is_last:
        started = time.perf_counter()
        summary = run_eval(state)
        _write(writers, done, {"epoch": done / steps_per_epoch, **summary})
        if best is not None:
          best.offer(done, summary, state)
        t_last += time.perf_counter() - started  # examples_per_sec counts training time only.
      if done % config.checkpoint_every_steps == 0 or is_last:
        _check_finite(pending, checkpoints)
        checkpoints.save(done, state)
  finally:
    progress.close()
    for closing in ([checkpoints] + ([best] if best else []) + list(writers)):
      closing.close()
  return state, summary


def _write(writers: Sequence[Writer], step: int, metrics: dict[str, Any]) -> None:
  for writer in writers:
    writer.write(step, metrics)


def train(config: ml_collections.ConfigDict, workdir, batches: Batches, state: Any,
          p_train, run_eval, parallel: DataParallel,
          writers: Sequence[Writer] = ()) -> tuple[Any, dict[str, Any]]:
  """The loop of :func:`fit` on a built step: places the host ``state`` on the devices, restores the
  last checkpoint of ``workdir`` if any (resume), trains to the end of ``config``'s schedule over
  ``batches`` with ``p_train`` (``parallel.step`` of a task's step), logging (process 0: the default
  writers and ``writers``), evaluating with ``run_eval`` and checkpointing; ``(state, last
  evaluation)``."""
  lead = jax.process_index() == 0
  state = parallel.replicate(state)
  checkpoints = Checkpoints(workdir / "checkpoints", max_to_keep=config.keep_checkpoints,
                            parallel=parallel)
  best = BestCheckpoint(workdir / BEST, config.keep_best, parallel=parallel) if config.keep_best else None
  if checkpoints.latest_step() is not None:
    state = checkpoints.restore(state)
  if lead:
    (workdir / "config.json").write_text(config.to_json_best_effort(indent=2))
  writers = [*default_writers(config, workdir, int(state.step)), *writers] if lead else []
  state, summary = _train(config, batches, state, p_train, run_eval, checkpoints, best, writers,
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


def _evaluation(task: Task, test, config, parallel: DataParallel):
  """``state ↦ eval/ metrics`` of every evaluator of ``task`` on ``test``."""
  evaluators = task.evaluators(test, batch_size=config.eval_batch_size, parallel=parallel)
  return lambda state: {k: v for e in evaluators for k, v in e.run(state).items()}


def evaluate_checkpoint(config: ml_collections.ConfigDict, workdir, *, which: str = "last") -> dict[str, Any]:
  """``{"step", **eval/ metrics}`` of the last (or ``"best"``) checkpoint in ``workdir`` under
  ``config``'s task and evaluation split (:func:`jaxtricks.inference.evaluate`): the task is built as
  :func:`fit` builds it, its prerequisite runs loaded (never trained), and nothing is written."""
  maybe_initialize_distributed(config)
  check_config(config)
  workdir = as_path(workdir)
  datasets = build_datasets(config.dataset)
  data = Data(*datasets)
  task: Task = task_family(config.task).from_config(config, data, Runs(workdir, None, datasets))
  parallel = DataParallel(config.parallel)
  folder = BEST if which == "best" else "checkpoints"
  if not (workdir / folder).exists():
    raise ValueError(f"{str(workdir)!r} holds no checkpoint in {folder}/")
  checkpoints = Checkpoints(workdir / folder, max_to_keep=1, parallel=parallel, read_only=True)
  state = checkpoints.restore(parallel.replicate(task.init(config.seed)))
  checkpoints.close()
  metrics = _evaluation(task, data.test, config, parallel)(state)
  return {"step": int(jax.device_get(state.step)), **metrics}


def fit(config: ml_collections.ConfigDict, workdir: str | os.PathLike, *,
        datasets: tuple[ArrayDataset | ImageDataset, ArrayDataset | ImageDataset] | None = None,
        datasets_from_config: bool = False, writers: Sequence[Writer] = ()) -> tuple[dict[str, Any], Any]:
  """Trains ``config`` in ``workdir`` (resuming if it holds a checkpoint of the same config).

  Returns ``(final_metrics, state)``; the metrics are also written to ``workdir/final_metrics.json``.
  ``writers`` receive every logged record too (process 0; ``jaxtricks.training.writers.Writer``:
  ``write(step, metrics)``, ``close()``), each generation's from its step 0.

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
    return _fit(config, workdir, datasets, family, lead, writers)


def _fit(config, workdir, datasets, family, lead: bool, writers) -> tuple[dict[str, Any], Any]:
  datasets = _log_skipped_files(config, datasets, workdir)
  block = generations_block(config)
  if block and config[block].generations > 1:
    return fit_generations(functools.partial(fit, writers=writers), config, workdir, datasets)
  data = Data(*datasets)
  task: Task = family.from_config(config, data, Runs(workdir, fit, datasets))
  parallel = DataParallel(config.parallel)
  p_train = parallel.step(task.train_step, donate_state=True)
  run_eval = _evaluation(task, data.test, config, parallel)
  if lead:
    (workdir / DATA_FILE).write_text(json.dumps(data_record(data.train, data.test), indent=2))
  state, summary = train(config, workdir, task.batches, task.init(config.seed), p_train, run_eval,
                         parallel, writers)
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
