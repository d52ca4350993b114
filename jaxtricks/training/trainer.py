"""The fit loop: data, model, optimizer, data-parallel steps, evaluation, logging and checkpoints.

A run lives in its ``workdir``: ``config.json``, ``metrics.jsonl`` (one JSON object per logged step),
TensorBoard events in ``tb/``, orbax checkpoints in ``checkpoints/`` and PNG plots. Calling
:func:`fit` again on the same workdir resumes from the last checkpoint and reproduces the steps an
uninterrupted run would have taken.
"""

from __future__ import annotations

import functools
import json
import os
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
import tensorboardX
import tqdm

from jaxtricks.data import ArrayDataset, TrainBatches, build_datasets, eval_batches
from jaxtricks.imbalance import M2mGeneration
from jaxtricks.losses import effective_number_weights
from jaxtricks.losses.classification import SOFT_TARGET_LOSSES
from jaxtricks.losses.label_augmentation import NUM_TRANSFORMS as SLA_TRANSFORMS
from jaxtricks.losses.label_augmentation import sla_output_size
from jaxtricks.losses.open_set import OPEN_SET_LOSSES, open_set_scores
from jaxtricks.metrics import balanced_accuracy, per_class_recall, recall_at_k
from jaxtricks.metrics.open_set import open_set_aupr, open_set_auroc, oscr
from jaxtricks.models import create_model
from jaxtricks.models.open_set import ReciprocalPoints
from jaxtricks.training import optim, plots
from jaxtricks.training.steps import (INFOMAX_ESTIMATORS, PARALLEL, TASKS, Distillation, Recipe, TrainState,
                                      create_train_state, embed_step, eval_step, open_set_step,
                                      infomax_eval_step, parallelize, robust_eval_step,
                                      place_state, train_step)
from jaxtricks.training.transfer import load_variables, transfer_optimizer, transfer_variables

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def maybe_initialize_distributed(config: ml_collections.ConfigDict) -> None:
  """``jax.distributed.initialize()`` for multi-host runs (config.distributed or JAXTRICKS_DISTRIBUTED=1).

  On TPU pods, Slurm and Open MPI it needs no arguments; it must run before any JAX computation.
  """
  if (config.distributed or os.environ.get("JAXTRICKS_DISTRIBUTED") == "1") and not getattr(
      maybe_initialize_distributed, "done", False):
    jax.distributed.initialize()
    maybe_initialize_distributed.done = True


class _MetricWriter:
  """Appends records to ``metrics.jsonl`` and TensorBoard (process 0 only)."""

  def __init__(self, workdir: Path, resume_step: int, enabled: bool):
    self.enabled = enabled
    if not enabled:
      return
    self.path = workdir / "metrics.jsonl"
    if self.path.exists():  # Drop records of steps that the resumed run will redo.
      lines = self.path.read_text().splitlines()
      kept = [l for l in lines if l.strip() and json.loads(l)["step"] <= resume_step]
      self.path.write_text("".join(l + "\n" for l in kept))
    self.tb = tensorboardX.SummaryWriter(str(workdir / "tb"))

  def write(self, record: dict[str, Any]) -> None:
    if not self.enabled:
      return
    with open(self.path, "a") as f:
      f.write(json.dumps(record) + "\n")
    for key, value in record.items():
      if key != "step" and np.ndim(value) == 0:
        self.tb.add_scalar(key, value, record["step"])
    self.tb.flush()

  def close(self) -> None:
    if self.enabled:
      self.tb.close()


def evaluate(p_eval, state: TrainState, dataset: ArrayDataset, batch_size: int,
             num_devices: int) -> dict[str, Any]:
  """Loss, accuracy, balanced accuracy and per-class recall over the whole ``dataset``."""
  totals = None
  for batch in eval_batches(dataset, batch_size, num_devices=num_devices,
                            process_index=jax.process_index(), process_count=jax.process_count()):
    sums = p_eval(state, batch)
    totals = sums if totals is None else jax.tree.map(jnp.add, totals, sums)
  totals = jax.device_get(totals)
  correct, total = totals["correct"], totals["total"]
  extra = {f"eval/accuracy_{k.removeprefix('correct_')}": float(v / totals["count"])
           for k, v in totals.items() if k.startswith("correct_")}
  return {"eval/loss": float(totals["loss_sum"] / totals["count"]),
          "eval/accuracy": float(correct.sum() / total.sum()), **extra,
          "eval/balanced_accuracy": balanced_accuracy(correct, total),
          "eval/per_class_recall": [round(float(r), 6) for r in per_class_recall(correct, total)]}


def evaluate_retrieval(p_embed, state: TrainState, dataset: ArrayDataset, batch_size: int,
                       num_devices: int, ks=(1, 2, 4, 8)) -> dict[str, Any]:
  """Recall@K of the model's embeddings over ``dataset`` (every example a query; single host)."""
  embeddings = []
  for batch in eval_batches(dataset, batch_size, num_devices=num_devices):
    out = np.asarray(p_embed(state, batch))
    embeddings.append(out.reshape(-1, out.shape[-1])[np.asarray(batch["mask"]).reshape(-1)])
  recalls = recall_at_k(np.concatenate(embeddings), dataset.labels, ks)
  return {f"eval/recall@{k}": r for k, r in recalls.items()}


def evaluate_open_set(p_logits, state: TrainState, dataset: ArrayDataset, batch_size: int,
                      num_devices: int, *, num_known: int, loss: str) -> dict[str, Any]:
  """Closed-set accuracy on the known classes (labels ``< num_known``) and AUROC / AUPR / OSCR of the
  known-vs-unknown scores over ``dataset`` (single host)."""
  logits = []
  for batch in eval_batches(dataset, batch_size, num_devices=num_devices):
    out = np.asarray(p_logits(state, batch))
    logits.append(out.reshape(-1, out.shape[-1])[np.asarray(batch["mask"]).reshape(-1)])
  logits = np.concatenate(logits)
  scores = np.asarray(open_set_scores(logits, loss=loss))
  known = dataset.labels < num_known
  if known.all() or not known.any():
    raise ValueError("the open-set test split needs known and unknown classes")
  probs = logits if loss == "arpl" else np.asarray(jax.nn.softmax(logits))
  return {"eval/accuracy": float(np.mean(logits[known].argmax(1) == dataset.labels[known])),
          "eval/auroc": open_set_auroc(scores[known], scores[~known]),
          **{f"eval/{k}": v for k, v in open_set_aupr(scores[known], scores[~known]).items()},
          "eval/oscr": oscr(probs[known], probs[~known], dataset.labels[known])}


def _infomax_eval(p_infomax, state, dataset, batch_size, num_devices) -> dict[str, float]:
  """The MI estimator's loss on the full test batches (the last, padded one is left out: every
  example is a negative for the others)."""
  losses = [float(p_infomax(state, batch)) for batch in eval_batches(dataset, batch_size,
                                                                     num_devices=num_devices)
            if np.all(batch["mask"])]
  if not losses:
    raise ValueError(f"eval_batch_size={batch_size} exceeds the {len(dataset)} test examples")
  return {"eval/infomax_loss": float(np.mean(losses))}


def _robust_accuracy(p_robust, state, dataset, batch_size, num_devices) -> dict[str, float]:
  correct = sum(int(p_robust(state, batch)["robust_correct"])
                for batch in eval_batches(dataset, batch_size, num_devices=num_devices))
  return {"eval/robust_accuracy": correct / len(dataset)}


def _output_size(config: ml_collections.ConfigDict, num_classes: int) -> int:
  if config.task == "metric_learning":
    return config.model.embedding_dim
  if config.task == "open_set" and config.open_set.loss != "softmax" or config.task == "infomax":
    return config.model.embedding_dim
  if config.task == "sla":
    return sla_output_size(config.sla.mode, num_classes, SLA_TRANSFORMS[config.sla.transform])
  return num_classes


def _teacher(config, workdir: Path, datasets, num_classes: int, dtype) -> tuple[Any, dict]:
  """The distillation teacher's model and variables, from ``distill.teacher_workdir`` (default
  ``workdir/teacher``). With a ``distill.teacher`` config the teacher is first trained there (or its
  run resumed and finished); otherwise the directory must hold a finished jaxtricks run."""
  teacher_dir = Path(config.distill.teacher_workdir or workdir / "teacher")
  if config.distill.teacher:
    fit(config.distill.teacher, teacher_dir, datasets=datasets)
  if not (teacher_dir / "config.json").exists():
    raise ValueError(f"distill.teacher_workdir={str(teacher_dir)!r} holds no jaxtricks run and "
                     "distill.teacher is empty: give one of them")
  t_config = ml_collections.ConfigDict(json.loads((teacher_dir / "config.json").read_text()))
  model = create_model(t_config.model, num_classes=_output_size(t_config, num_classes), dtype=dtype)
  return model, load_variables(teacher_dir)


def _pretrained_dir(config, workdir: Path) -> Path:
  return Path(config.transfer.init_from or workdir / "pretrained")


def _fit_generations(config, workdir: Path, datasets) -> tuple[dict[str, Any], TrainState]:
  """Self-distillation (Born-Again Networks, Furlanello et al., ICML 2018): generation 1 learns from
  the teacher, generation g from generation g − 1, each in ``workdir/generation_g``."""
  summary = []
  teacher_dir = Path(config.distill.teacher_workdir or workdir / "teacher")
  teacher_config = config.distill.teacher
  for generation in range(1, config.distill.generations + 1):
    g_config = ml_collections.ConfigDict(config.to_dict())
    g_config.distill.generations = 1
    g_config.distill.teacher_workdir = str(teacher_dir)
    g_config.distill.teacher = teacher_config if generation == 1 else ml_collections.ConfigDict()
    final, state = fit(g_config, workdir / f"generation_{generation}", datasets=datasets)
    summary.append({k: v for k, v in final.items() if k.startswith("eval/") and np.ndim(v) == 0})
    teacher_dir = workdir / f"generation_{generation}"
  teacher_file = Path(config.distill.teacher_workdir or workdir / "teacher") / "final_metrics.json"
  teacher_eval = json.loads(teacher_file.read_text()) if teacher_file.exists() else {}
  final = {**final, "generations": summary, "workdir": str(workdir),
           "teacher": {k: v for k, v in teacher_eval.items() if k.startswith("eval/") and np.ndim(v) == 0}}
  if jax.process_index() == 0:
    (workdir / "final_metrics.json").write_text(json.dumps(final, indent=2))
  return final, state


def _check_finite(pending: list[tuple[int, dict]], checkpoints: ocp.CheckpointManager) -> list[dict]:
  """Fetches the pending step metrics; raises on the first non-finite loss, naming the step."""
  fetched = jax.device_get(pending)
  for step, metrics in fetched:
    if not np.isfinite(metrics["loss"]):
      raise FloatingPointError(
          f"training loss is {metrics['loss']} at step {step}; stopping. The last good checkpoint "
          f"(step {checkpoints.latest_step()}) is kept in {checkpoints.directory}")
  return [m for _, m in fetched]


def _m2m_generation(config, workdir: Path, model, datasets, steps_per_epoch: int) -> M2mGeneration:
  """The generator g of M2m: restored from ``m2m.generator_workdir``, or first trained (plain ERM on
  the same data and model) into ``workdir/generator``."""
  if config.m2m.generator_workdir:
    g_variables = load_variables(config.m2m.generator_workdir)
  else:
    g_config = ml_collections.ConfigDict(config.to_dict())
    g_config.m2m.enabled = False
    g_config.dataset.resample = "none"
    g_config.loss.update(type="softmax", class_balanced_beta=0.0)
    _, g_state = fit(g_config, workdir / "generator", datasets=datasets)
    g_variables = {"params": g_state.params, "batch_stats": g_state.batch_stats}
  g_variables = jax.device_get(g_variables)
  train = datasets[0]
  return M2mGeneration(
      g_apply=lambda x: model.apply(g_variables, x, train=False),
      samples_per_class=tuple(int(n) for n in train.class_counts()),
      from_step=config.m2m.from_epoch * steps_per_epoch,
      data_range=(float(train.images.min()), float(train.images.max())),
      beta=config.m2m.beta, threshold=config.m2m.threshold, lam=config.m2m.lam,
      step_size=config.m2m.step_size, steps=config.m2m.steps, noise=config.m2m.noise)


def fit(config: ml_collections.ConfigDict, workdir: str | os.PathLike, *,
        datasets: tuple[ArrayDataset, ArrayDataset] | None = None) -> tuple[dict[str, Any], TrainState]:
  """Trains ``config`` in ``workdir`` (resuming if it holds a checkpoint).

  Returns ``(final_metrics, state)``; the metrics are also written to ``workdir/final_metrics.json``.

  ``datasets`` = ``(train, test)`` overrides ``config.dataset`` (handy from notebooks and tests).
  """
  maybe_initialize_distributed(config)
  workdir = Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  lead = jax.process_index() == 0
  if config.parallel not in PARALLEL:
    raise ValueError(f"parallel must be one of {PARALLEL}, got {config.parallel!r}")
  if config.dtype not in DTYPES:
    raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {config.dtype!r}")
  if config.loss.type not in SOFT_TARGET_LOSSES:
    raise ValueError(f"loss.type must be one of {SOFT_TARGET_LOSSES}, got {config.loss.type!r}")
  if config.task not in TASKS:
    raise ValueError(f"task must be one of {TASKS}, got {config.task!r}")
  if config.task in ("metric_learning", "sla") and (
      config.train.mixup_alpha or config.train.label_smoothing or config.m2m.enabled):
    raise ValueError(f"task={config.task!r} takes no mixup, label smoothing or m2m")
  if config.task == "infomax" and config.infomax.estimator not in INFOMAX_ESTIMATORS:
    raise ValueError(f"infomax.estimator must be one of {sorted(INFOMAX_ESTIMATORS)}, got "
                     f"{config.infomax.estimator!r}")
  if config.task == "open_set" and config.open_set.loss not in OPEN_SET_LOSSES:
    raise ValueError(f"open_set.loss must be one of {OPEN_SET_LOSSES}, got {config.open_set.loss!r}")
  if config.task == "sla" and config.sla.transform not in SLA_TRANSFORMS:
    raise ValueError(f"sla.transform must be one of {sorted(SLA_TRANSFORMS)}, got {config.sla.transform!r}")
  if config.distill.generations < 1:
    raise ValueError(f"distill.generations must be >= 1, got {config.distill.generations}")
  if datasets is None:
    datasets = build_datasets(config.dataset)
  if config.distill.generations > 1:
    return _fit_generations(config, workdir, datasets)
  num_devices = jax.local_device_count() if config.parallel == "pmap" else 1

  train, test = datasets
  resample, resample_from = config.dataset.resample, config.dataset.resample_from_epoch
  if config.m2m.enabled:  # M2m generates on a class-balanced over-sampled stream.
    resample, resample_from = "oversample", config.m2m.from_epoch
  batches = TrainBatches(train, config.train.batch_size, seed=config.seed, num_devices=num_devices,
                         process_index=jax.process_index(), process_count=jax.process_count(),
                         resample=resample, resample_from_epoch=resample_from,
                         smote_k=config.dataset.smote_k)
  steps_per_epoch = batches.steps_per_epoch
  total_steps = config.train.num_epochs * steps_per_epoch

  dtype = DTYPES[config.dtype]
  model = create_model(config.model, num_classes=_output_size(config, train.num_classes), dtype=dtype)
  if config.task == "open_set" and config.open_set.loss != "softmax":
    model = ReciprocalPoints(model, num_classes=train.num_classes,
                             num_centers=config.open_set.num_centers)
  schedule = optim.learning_rate_schedule(config.optim, steps_per_epoch=steps_per_epoch,
                                          num_epochs=config.train.num_epochs,
                                          global_batch=config.train.batch_size)
  tx = transfer_optimizer(optim.create_optimizer(config.optim, schedule),
                          freeze_backbone=config.transfer.freeze_backbone,
                          backbone_lr_factor=config.transfer.backbone_lr_factor)
  state = create_train_state(model, tx, train.images[:1], config.seed)
  if config.transfer.pretrain:
    fit(config.transfer.pretrain, _pretrained_dir(config, workdir))
  if config.transfer.init_from or config.transfer.pretrain:
    loaded = transfer_variables({"params": state.params, "batch_stats": state.batch_stats},
                                load_variables(_pretrained_dir(config, workdir)))
    state = state.replace(**loaded, opt_state=tx.init(loaded["params"]))
  distill = None
  if config.distill.kd_weight or config.distill.rkd_distance_weight or config.distill.rkd_angle_weight:
    teacher, teacher_variables = _teacher(config, workdir, (train, test), train.num_classes, dtype)
    distill = Distillation(teacher, kd_weight=config.distill.kd_weight,
                           temperature=config.distill.temperature,
                           rkd_distance_weight=config.distill.rkd_distance_weight,
                           rkd_angle_weight=config.distill.rkd_angle_weight,
                           features=config.distill.features)
    state = state.replace(teacher=teacher_variables)
  mixup_off = config.train.num_epochs - config.train.mixup_off_epochs
  beta = config.loss.class_balanced_beta
  class_weights = (tuple(effective_number_weights(train.class_counts(), beta).tolist())
                   if beta > 0 else None)
  recipe = Recipe(num_classes=train.num_classes, label_smoothing=config.train.label_smoothing,
                  mixup_alpha=config.train.mixup_alpha,
                  mixup_off_step=mixup_off * steps_per_epoch if config.train.mixup_off_epochs else None,
                  crop_padding=config.augment.crop_padding, flip=config.augment.flip,
                  loss_type=config.loss.type, gamma=config.loss.gamma, class_weights=class_weights,
                  reweight_from_step=config.loss.reweight_from_epoch * steps_per_epoch,
                  task=config.task, task_weight=config.loss.weight, margin=config.loss.margin,
                  sla_transform=config.sla.transform, sla_mode=config.sla.mode,
                  sla_temperature=config.sla.temperature, open_set_loss=config.open_set.loss,
                  num_centers=config.open_set.num_centers,
                  open_set_temperature=config.open_set.temperature,
                  open_set_weight=config.open_set.weight,
                  official_indexing=config.open_set.official_indexing,
                  infomax_estimator=config.infomax.estimator,
                  prior_weight=config.infomax.prior_weight,
                  frozen_backbone=config.transfer.freeze_backbone)
  m2m = None
  if config.m2m.enabled:
    m2m = _m2m_generation(config, workdir, model, (train, test), steps_per_epoch)
  p_train = parallelize(functools.partial(train_step, model=model, tx=tx, recipe=recipe,
                                          schedule=schedule, distill=distill, m2m=m2m),
                        config.parallel)
  if config.task == "metric_learning":
    p_embed = parallelize(functools.partial(embed_step, model=model), config.parallel,
                          per_device_output=True)
    run_eval = lambda state: evaluate_retrieval(p_embed, state, test, config.eval_batch_size,
                                                num_devices)
  elif config.task == "infomax":
    p_infomax = parallelize(functools.partial(infomax_eval_step, model=model, recipe=recipe),
                            config.parallel)
    run_eval = lambda state: _infomax_eval(p_infomax, state, test, config.eval_batch_size,
                                           num_devices)
  elif config.task == "open_set":
    p_logits = parallelize(functools.partial(open_set_step, model=model, recipe=recipe),
                           config.parallel, per_device_output=True)
    run_eval = lambda state: evaluate_open_set(p_logits, state, test, config.eval_batch_size,
                                               num_devices, num_known=train.num_classes,
                                               loss=config.open_set.loss)
  else:
    p_eval = parallelize(functools.partial(eval_step, model=model, num_classes=train.num_classes,
                                           recipe=recipe), config.parallel)
    run_eval = lambda state: evaluate(p_eval, state, test, config.eval_batch_size, num_devices)
    if config.eval_pgd.epsilon > 0:  # Robust accuracy under PGD, next to the clean metrics.
      p_robust = parallelize(functools.partial(
          robust_eval_step, model=model, epsilon=config.eval_pgd.epsilon,
          step_size=config.eval_pgd.step_size, steps=config.eval_pgd.steps, norm=config.eval_pgd.norm,
          data_range=(float(test.images.min()), float(test.images.max()))), config.parallel)
      clean_eval = run_eval
      run_eval = lambda state: {**clean_eval(state), **_robust_accuracy(
          p_robust, state, test, config.eval_batch_size, num_devices)}

  checkpoints = ocp.CheckpointManager(
      (workdir / "checkpoints").absolute(),
      options=ocp.CheckpointManagerOptions(max_to_keep=config.keep_checkpoints, create=True))
  if checkpoints.latest_step() is not None:
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state)
    state = checkpoints.restore(checkpoints.latest_step(), args=ocp.args.StandardRestore(abstract))
  state = place_state(state, config.parallel)
  start_step = int(state.step)
  if lead:
    (workdir / "config.json").write_text(config.to_json_best_effort(indent=2))
  writer = _MetricWriter(workdir, start_step, enabled=lead)

  eval_every = max(1, int(config.eval_every_epochs * steps_per_epoch))
  pending: list[tuple[int, dict]] = []
  progress = tqdm.tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True,
                       disable=not (config.progress and lead), desc=f"train ({num_devices} dev)")
  t_last, step_last = time.perf_counter(), start_step
  summary: dict[str, Any] = {}
  try:
    for step in range(start_step, total_steps):
      state, metrics = p_train(state, batches.batch(step))
      pending.append((step + 1, metrics))
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
        t_last, step_last = now, done
        writer.write(record)
        progress.set_postfix(loss=f"{record['train/loss']:.4f}",
                             ex_per_s=f"{record['examples_per_sec']:.0f}")
      if done % eval_every == 0 or is_last:
        summary = run_eval(state)
        writer.write({"step": done, "epoch": done / steps_per_epoch, **summary})
      if done % config.checkpoint_every_steps == 0 or is_last:
        _check_finite(pending, checkpoints)
        checkpoints.save(done, args=ocp.args.StandardSave(state))
  finally:
    progress.close()
    checkpoints.wait_until_finished()
    checkpoints.close()
    writer.close()

  if not summary:  # Resumed a finished run: nothing was trained, evaluate once more.
    summary = run_eval(state)
  train_counts = train.class_counts().tolist()
  if lead:
    plots.save_run_plots(workdir, train_counts)
  final = {"step": int(state.step), **summary, "train_class_counts": train_counts,
           "workdir": str(workdir),
           "artifacts": sorted({p.name for p in workdir.iterdir()} | {"final_metrics.json"})}
  if lead:
    (workdir / "final_metrics.json").write_text(json.dumps(final, indent=2))
  return final, state
