"""The training options with their defaults; every file in ``configs/`` starts from :func:`base_config`.

The shared blocks are here, each task's own blocks in its ``jaxtricks.tasks`` module (:func:`set_task`).
Configs come back locked (:func:`base_config`, every recipe, :func:`load_config`): a typo
(``c.optim.lrr = 1``, ``--config.optim.lrr``) raises with the closest valid key, and so does a key of
another task (``--config.sla.mode`` on a classification run); :func:`check_config` repeats the check at
the start of a run, for a config that was unlocked or built by hand. Every recipe is a short list of
differences.
"""

from __future__ import annotations

import ast
import difflib
import importlib.resources
import importlib.util
import os
from pathlib import Path

import ml_collections

from jaxtricks.models import model_config
from jaxtricks.parallel import DataParallel
from jaxtricks.tasks import TASKS, task_family
from jaxtricks.tasks.base import DTYPES
from jaxtricks.training.writers import wandb_block


def base_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.dtype = "float32"  # Compute dtype: float32 | bfloat16 (parameters stay float32).
  c.task = "classification"  # A key of jaxtricks.tasks.TASKS; change it with set_task(c, name).
  c.parallel = "mesh"  # mesh: jit + shard_map over every device of every process | pmap.
  c.distributed = ml_collections.ConfigDict()  # Multi-process runs (also JAXTRICKS_DISTRIBUTED=1).
  c.distributed.enabled = False  # Call jax.distributed.initialize() before anything else.
  c.distributed.coordinator_address = ""  # host:port of process 0; empty: detected (TPU pod, Slurm).
  c.distributed.num_processes = 1  # With coordinator_address: how many processes take part,
  c.distributed.process_id = 0  # and which one this is.

  c.dataset = _dataset_block()

  c.augment = ml_collections.ConfigDict()
  c.augment.crop_padding = 0  # Pad-and-random-crop by this many pixels (4 for CIFAR).
  c.augment.flip = False  # Random horizontal flip.
  c.augment.randaugment_ops = 0  # RandAugment layers N per example (0: off; needs unstandardised data).
  c.augment.randaugment_magnitude = 9  # torchvision: bin of 31 (9); tf: level M/10 (NS SVHN: 5).
  c.augment.randaugment_policy = "torchvision"  # torchvision | tf | tf_fixed_contrast
  c.augment.cutout = 0  # Cutout square side in pixels (0: off).

  c.model = model_config()  # model.name and one block per model: model.resnet, model.cnn, ...

  c.transfer = ml_collections.ConfigDict()  # Start from a trained run with a new output head.
  c.transfer.pretrain = ml_collections.ConfigDict()  # Config of the source run: trained first if set.
  c.transfer.init_from = ""  # Workdir of the pretrained run (default with pretrain: WORKDIR/pretrained).
  c.transfer.freeze_backbone = False  # Train the head only (backbone and BN statistics frozen;
  #                                     without init_from/pretrain: a probe on a random network).
  c.transfer.backbone_lr_factor = 1.0  # Fine-tuning: backbone LR = this × the head LR.

  c.optim = ml_collections.ConfigDict()
  c.optim.name = "sgd"  # sgd | adamw
  c.optim.lr = 0.1  # Base LR for a batch of reference_batch; scaled linearly with the global batch.
  c.optim.reference_batch = 256
  c.optim.momentum = 0.9
  c.optim.nesterov = False
  c.optim.b1 = 0.9
  c.optim.b2 = 0.999
  c.optim.weight_decay = 1e-4
  c.optim.no_bias_decay = False  # Exclude biases, BatchNorm γ/β and PReLU slopes from weight decay.
  c.optim.schedule = "step"  # cosine | step | constant
  c.optim.warmup_epochs = 0.0
  c.optim.decay_epochs = (30, 60)  # step schedule: epochs at which the LR is multiplied by decay_factor.
  c.optim.decay_factor = 0.1

  c.train = ml_collections.ConfigDict()
  c.train.batch_size = 128  # Global batch over all devices and hosts.
  c.train.num_epochs = 30
  c.train.label_smoothing = 0.0
  c.train.mixup_alpha = 0.0  # 0 disables mixup.
  c.train.mixup_off_epochs = 0  # Train the last this-many epochs without mixup.

  c.eval_batch_size = 256
  c.eval_every_epochs = 5
  c.log_every_steps = 10
  c.checkpoint_every_steps = 200
  c.keep_checkpoints = 2
  c.keep_best = ""  # An eval/ metric of the validation split (dataset.evaluate_on=validation): its best
  #                   checkpoint is kept too, in WORKDIR/best_checkpoint (a *loss is minimised, others
  #                   maximised); load_run(WORKDIR, which="best").
  c.wandb = wandb_block()  # Weights & Biases logging (process 0), if wandb.project is set.
  c.progress = True  # tqdm progress bar.
  return set_task(c, "classification").lock()


def _dataset_block() -> ml_collections.ConfigDict:
  d = ml_collections.ConfigDict()
  d.source = "digits"  # digits (embedded) | tfds | folder | array_record (streamed) | mmoe_synthetic |
  #                      sort_of_clevr (generated)
  d.tfds_name = ""  # e.g. cifar10 when source == "tfds".
  d.data_dir = ml_collections.FieldReference(None, field_type=str)
  d.path = ""  # folder | array_record: the directory holding <train_split>/ and <test_split>/.
  d.train_split = "train"
  d.test_split = "test"
  d.streaming = False  # tfds: read records per batch (an ArrayRecord build), not the whole split into RAM.
  d.image_size = 8  # digits: 8 or e.g. 32 (bilinear resize); streamed images: the crop size (224).
  d.eval_resize = 256  # Streamed evaluation: shorter side resized to this, the centre image_size kept.
  d.crop_scale = (0.08, 1.0)  # Streamed training: random-resized crop's area fraction,
  d.crop_ratio = (3 / 4, 4 / 3)  # its aspect-ratio range,
  d.crop_flip = True  # and a random horizontal flip.
  d.pixel_mean = (0.485, 0.456, 0.406)  # Streamed with standardize: (x − mean) / std on [0, 1] pixels,
  d.pixel_std = (0.229, 0.224, 0.225)  # on the device (ImageNet's statistics).
  d.workers = 0  # Streamed: Grain worker processes that decode batches (0: the main process),
  d.threads = 2  # each decoding this many batches at a time on threads (benchmarks/RESULTS.md).
  d.skip_bad_files = False  # Streamed: skip an undecodable image (listed in WORKDIR/skipped_files/)
  #                            instead of stopping with its name.
  d.channels = 1  # digits only: 1 or 3.
  d.test_fraction = 0.3  # digits only: stratified held-out fraction.
  d.val_fraction = 0.0  # Held out of the training split (not streamed): stratified, after
  #                       train_classes, before the long tail; generated sources: the last rows; 0: none.
  d.evaluate_on = "test"  # test | validation: the split the run's eval/ metrics come from.
  d.standardize = True  # Per-channel (x − mean) / std with training statistics (streamed: pixel_mean,
  #                         pixel_std); False: pixels in [0, 1].
  d.split_seed = 0  # digits: the split's seed; generated sources: the generator's seed.
  d.num_train = 0  # Generated sources: training examples; 0: as the reference (10,000 rows | 9,800
  d.num_test = 0  # scenes), and test examples; 0: as the reference (1,000 rows | 200 scenes).
  d.version = "2017"  # sort_of_clevr only: 2017 (11-d questions) | head (18-d, with ternary ones).
  d.rho = 0.8  # mmoe_synthetic only: cosine of the two tasks' weight vectors.
  d.binarize = False  # mmoe_synthetic only: 0/1 targets, y > its training median (binary heads).
  d.imbalance_factor = 1.0  # n_max / n_min of the long-tailed training split; 1 = as loaded.
  d.imbalance_profile = "exponential"  # exponential | step | power (Pareto tail, ImageNet-LT-like)
  d.resample = "none"  # none | oversample | undersample | smote (class-balanced training stream)
  d.resample_from_epoch = 0  # Deferred re-sampling: plain stream before this epoch.
  d.smote_k = 5  # Neighbours per point for resample == "smote".
  d.train_classes = ()  # Keep only these classes (relabelled 0..n−1); empty: all.
  d.test_classes = ()  # The same for the test split (metric learning: unseen classes).
  return d


def set_task(c: ml_collections.ConfigDict, task: str) -> ml_collections.ConfigDict:
  """Sets ``c.task`` and gives ``c`` exactly the config blocks of that task (``loss``, ``distill``,
  ``m2m``, ``eval_pgd``, ``sla``, ``open_set``, ``infomax``: see each ``jaxtricks.tasks`` module's
  ``config_blocks``), so a locked config rejects another task's keys. Blocks the task already has
  keep their values; the others start from their defaults."""
  blocks = task_family(task).config_blocks()
  with c.unlocked():
    for name in {n for family in TASKS.values() for n in family.config_blocks()} - set(blocks):
      if name in c:
        del c[name]
    for name, block in blocks.items():
      if name not in c or set(c[name].keys()) != set(block.keys()):
        c[name] = block
    c.task = task
  return c  # unlocked() locks it again, the new blocks too.


def check_keys(c: ml_collections.ConfigDict, extra: dict | None = None) -> None:
  """A ``ValueError`` naming the first key of ``c`` that is not an option of its task (with the closest
  one), or an option it lacks: what a locked config refuses at assignment, checked again for a config
  that was unlocked or built by hand. Blocks whose default is empty hold free-form content (another
  run's config: ``distill.teacher``; a model's own options: ``model.options``). ``extra``: blocks that
  the caller adds to the schema (``active`` for ``python -m jaxtricks.active``)."""
  schema = set_task(base_config(), c.task)
  with schema.unlocked():
    schema.update(extra or {})
  _check_keys(c, schema, "", c.task)


def _check_keys(c, schema, prefix: str, task: str) -> None:
  for key in c.keys():
    if key not in schema:
      close = difflib.get_close_matches(key, list(schema.keys()), n=1)
      hint = (f"did you mean {prefix}{close[0]}?" if close else
              f"{prefix.rstrip('.') or 'the top level'} has {', '.join(sorted(schema.keys()))}")
      raise ValueError(f"config key {prefix}{key} is not an option of task={task!r}: {hint}")
    if isinstance(schema[key], ml_collections.ConfigDict) and len(schema[key]):
      if not isinstance(c[key], (ml_collections.ConfigDict, dict)):
        raise ValueError(f"config key {prefix}{key} must be a block of options, got {c[key]!r}")
      _check_keys(c[key], schema[key], f"{prefix}{key}.", task)
  for key in schema.keys():
    if key not in c:
      raise ValueError(f"config has no {prefix}{key} (start from base_config() or a recipe)")


def check_config(c: ml_collections.ConfigDict, extra_blocks: dict | None = None) -> None:
  """A ``ValueError`` naming the first key that is not an option (:func:`check_keys`) or the first shared
  option whose value is not allowed (each task checks its own blocks before it trains anything)."""
  task_family(c.task)
  check_keys(c, extra_blocks)
  parallel = DataParallel(c.parallel)
  if c.dtype not in DTYPES:
    raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {c.dtype!r}")
  at_least_one = ("train.num_epochs", "train.batch_size", "eval_batch_size", "log_every_steps",
                  "checkpoint_every_steps", "keep_checkpoints")
  for key in at_least_one:
    section, _, name = key.rpartition(".")
    value = (c[section] if section else c)[name]
    if value < 1:
      raise ValueError(f"{key} must be >= 1, got {value}")
  for key, value in (("optim.lr", c.optim.lr), ("eval_every_epochs", c.eval_every_epochs)):
    if not value > 0:
      raise ValueError(f"{key} must be > 0, got {value}")
  for key in ("train.batch_size", "eval_batch_size"):
    section, _, name = key.rpartition(".")
    parallel.check_batch_size((c[section] if section else c)[name], key)
  if c.keep_best and not c.keep_best.startswith("eval/"):
    raise ValueError(f"keep_best must name an eval/ metric (e.g. eval/accuracy), got {c.keep_best!r}")
  if c.wandb.project and importlib.util.find_spec("wandb") is None:
    raise ValueError(f"wandb.project={c.wandb.project!r} needs the wandb package: pip install "
                     "'jaxtricks[wandb]'")
  if c.keep_best and c.dataset.evaluate_on != "validation":
    raise ValueError(f"keep_best={c.keep_best!r} picks a checkpoint by its score, and the test split must "
                     "not pick anything: set dataset.evaluate_on='validation' (with dataset.val_fraction)")


def parse_arg(arg: str | None, **defaults) -> ml_collections.ConfigDict:
  """Parses the ``:arg`` of ``--config=file.py:arg`` as ``name[,key=value,...]`` (big_vision style).

  ``parse_arg("smoke,seed=3", smoke=False, seed=0)`` → ``{smoke: True, seed: 3}``; a bare name is a
  ``True`` boolean; values are converted to the type of their default; unknown names are an error.
  """
  out = ml_collections.ConfigDict(defaults)
  for item in filter(None, (arg or "").split(",")):
    key, _, value = item.partition("=")
    if key not in defaults:
      raise ValueError(f"config argument {key!r} is not one of {sorted(defaults)}")
    default = defaults[key]
    if isinstance(default, bool):
      out[key] = value.lower() not in ("false", "0", "no") if value else True
    else:
      out[key] = type(default)(value)
  return out


def recipes() -> dict[str, str]:
  """Every installed recipe: ``name -> the first paragraph of its docstring, on one line``."""
  files = sorted(p for p in recipes_dir().glob("*.py") if not p.name.startswith("_"))
  summary = lambda doc: " ".join((doc or "").split("\n\n")[0].split())  # noqa: E731
  return {p.stem: summary(ast.get_docstring(ast.parse(p.read_text()))) for p in files}


def recipes_dir() -> Path:
  """The recipes' directory: ``configs/`` of the repository, installed as ``jaxtricks.configs``."""
  return Path(str(importlib.resources.files("jaxtricks.configs")))


def recipe_path(spec: str | os.PathLike) -> Path:
  """The config file ``spec`` names: a file, or the installed recipe ``NAME`` (``.py`` optional)."""
  path = Path(spec)
  if path.is_file():
    return path
  recipe = recipes_dir() / f"{path.name.removesuffix('.py')}.py"
  if path.parent == Path(".") and recipe.is_file():
    return recipe
  raise ValueError(f"config {str(spec)!r} is neither a file nor the name of a recipe; recipes: "
                   f"{', '.join(recipes())}")


def load_config(spec: str | os.PathLike, arg: str | None = None) -> ml_collections.ConfigDict:
  """``get_config(arg)`` of a config file or installed recipe (what ``--config=SPEC:ARG`` gives the
  command line): ``load_config("digits_lt_cb_focal", "imbalance=50")``."""
  path = recipe_path(spec)
  module_spec = importlib.util.spec_from_file_location(f"jaxtricks_config_{path.stem}", path)
  module = importlib.util.module_from_spec(module_spec)
  module_spec.loader.exec_module(module)
  config = module.get_config(arg)
  return config.lock() if isinstance(config, ml_collections.ConfigDict) else config


def sibling_config(file: str, name: str, arg: str | None = None) -> ml_collections.ConfigDict:
  """:func:`load_config` of ``<name>.py`` in the directory of ``file``: lets one recipe build on another.

  Config files are loaded by path, not as a package, so they cannot import each other directly::

    def get_config(arg=None):
      c = sibling_config(__file__, "cifar10_resnet32", "imbalance=100")
  """
  return load_config(Path(file).with_name(f"{name}.py"), arg)
