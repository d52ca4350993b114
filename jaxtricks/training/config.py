"""The full set of training options with their defaults; every file in ``configs/`` starts from it.

Keeping all keys in one place lets a locked config reject a typo (``--config.optim.lrr``) with the
closest valid key, and makes every recipe a short list of differences.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import ml_collections
from absl import flags as absl_flags


def base_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.dtype = "float32"  # Compute dtype: float32 | bfloat16 (parameters stay float32).
  c.task = "classification"  # classification | metric_learning | sla | open_set | infomax
  c.parallel = "pmap"  # pmap: all local devices | jit: one device.
  c.distributed = False  # Call jax.distributed.initialize() (multi-host; also JAXTRICKS_DISTRIBUTED=1).

  c.dataset = ml_collections.ConfigDict()
  c.dataset.source = "digits"  # digits (embedded) | tfds
  c.dataset.tfds_name = ""  # e.g. cifar10 when source == "tfds".
  c.dataset.data_dir = ml_collections.FieldReference(None, field_type=str)
  c.dataset.train_split = "train"
  c.dataset.test_split = "test"
  c.dataset.image_size = 8  # digits only: 8 or e.g. 32 (bilinear resize).
  c.dataset.channels = 1  # digits only: 1 or 3.
  c.dataset.test_fraction = 0.3  # digits only: stratified held-out fraction.
  c.dataset.split_seed = 0
  c.dataset.imbalance_factor = 1.0  # n_max / n_min of the long-tailed training split; 1 = as loaded.
  c.dataset.imbalance_profile = "exponential"  # exponential | step
  c.dataset.resample = "none"  # none | oversample | undersample | smote (class-balanced training stream)
  c.dataset.resample_from_epoch = 0  # Deferred re-sampling: plain stream before this epoch.
  c.dataset.smote_k = 5  # Neighbours per point for resample == "smote".
  c.dataset.train_classes = ()  # Keep only these classes (relabelled 0..n−1); empty: all.
  c.dataset.test_classes = ()  # The same for the test split (metric learning: unseen classes).

  c.augment = ml_collections.ConfigDict()
  c.augment.crop_padding = 0  # Pad-and-random-crop by this many pixels (4 for CIFAR).
  c.augment.flip = False  # Random horizontal flip.

  c.model = ml_collections.ConfigDict()
  c.model.name = "resnet"
  c.model.depth = 20
  c.model.width = 16
  c.model.variant = "v1"  # v1 | b | c | d
  c.model.block = "basic"  # basic | bottleneck
  c.model.zero_gamma = False
  c.model.activation = "relu"  # relu | prelu
  c.model.prior_bias = False  # Head bias −log(C−1) (sigmoid/focal losses start at p = 1/C).
  c.model.l2_normalize = False  # Unit-length outputs (metric learning embeddings).
  c.model.embedding_dim = 64  # Output size when task == "metric_learning".

  c.loss = ml_collections.ConfigDict()
  c.loss.type = "softmax"  # softmax | sigmoid | focal | softmax_focal
  c.loss.gamma = 0.0  # Focusing parameter of focal / softmax_focal.
  c.loss.class_balanced_beta = 0.0  # > 0: weight examples by effective-number class weights (CB loss).
  c.loss.reweight_from_epoch = 0  # Deferred re-weighting (DRW): class weights from this epoch on.
  c.loss.weight = 1.0  # Weight of the task loss; 0 trains on distillation losses alone.
  c.loss.margin = 0.2  # Triplet margin (metric_learning).

  c.distill = ml_collections.ConfigDict()  # Distillation from a frozen teacher.
  c.distill.teacher = ml_collections.ConfigDict()  # The teacher's full config: trained first if needed.
  c.distill.teacher_workdir = ""  # The teacher's run directory; empty: WORKDIR/teacher.
  c.distill.kd_weight = 0.0  # Hinton KD, T²·KL on the outputs (GluonCV: loss.weight=h, kd_weight=1−h).
  c.distill.temperature = 4.0
  c.distill.rkd_distance_weight = 0.0  # Relational KD, distance term (official examples: 1).
  c.distill.rkd_angle_weight = 0.0  # Relational KD, angle term (official examples: 2).
  c.distill.features = "output"  # What RKD compares: output | embedding (pooled penultimate).
  c.distill.generations = 1  # Self-distillation: generation g > 1 learns from generation g − 1.

  c.sla = ml_collections.ConfigDict()  # Self-supervised label augmentation (task == "sla").
  c.sla.transform = "rotation"  # rotation (M = 4) | color_perm (M = 6)
  c.sla.mode = "sla"  # sla (joint labels; eval SLA+AG) | sla_sd (+ self-distilled head) | da | mt
  c.sla.temperature = 1.0  # SLA+SD distillation temperature.

  c.open_set = ml_collections.ConfigDict()  # Open-set recognition (task == "open_set").
  c.open_set.loss = "softmax"  # softmax | rpl | arpl (reciprocal points; features = model.embedding_dim)
  c.open_set.num_centers = 1  # Reciprocal points per class (RPL).
  c.open_set.temperature = 1.0
  c.open_set.weight = 0.1  # Weight of the open-space term (official default 0.1).
  c.open_set.official_indexing = False  # RPL, K > 1: reproduce the official code's point indexing.

  c.infomax = ml_collections.ConfigDict()  # Deep InfoMax (task == "infomax", model.name == "dim").
  c.infomax.estimator = "jsd"  # jsd | nce | dv
  c.infomax.prior_weight = 0.1  # Prior matching of sigmoid(code) to U(0, 1); 0 turns it off.

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

  c.m2m = ml_collections.ConfigDict()  # Major-to-minor translation (Kim et al., CVPR 2020).
  c.m2m.enabled = False
  c.m2m.from_epoch = 0  # Generation (on a class-balanced over-sampled stream) from this epoch on.
  c.m2m.generator_workdir = ""  # Workdir of a trained g (same model); empty: train g first (ERM).
  c.m2m.beta = 0.999  # Seed rejection: accept with 1 − β^{(N_k0 − N_k)^+}.
  c.m2m.threshold = 0.9  # γ: keep x* if softmax(g(x*))[k] ≥ γ.
  c.m2m.lam = 0.5  # λ of the seed-class logit of f.
  c.m2m.step_size = 0.1
  c.m2m.steps = 10
  c.m2m.noise = "per_sample"  # per_sample | official (the official per-channel-across-batch cap).

  c.train = ml_collections.ConfigDict()
  c.train.batch_size = 128  # Global batch over all devices and hosts.
  c.train.num_epochs = 30
  c.train.label_smoothing = 0.0
  c.train.mixup_alpha = 0.0  # 0 disables mixup.
  c.train.mixup_off_epochs = 0  # Train the last this-many epochs without mixup.

  c.eval_batch_size = 256
  c.eval_pgd = ml_collections.ConfigDict()  # Robust accuracy under PGD (classification), if epsilon > 0.
  c.eval_pgd.epsilon = 0.0  # In the units of the (standardised) inputs.
  c.eval_pgd.step_size = 0.0
  c.eval_pgd.steps = 10
  c.eval_pgd.norm = "linf"  # linf | l2
  c.eval_every_epochs = 5
  c.log_every_steps = 10
  c.checkpoint_every_steps = 200
  c.keep_checkpoints = 2
  c.progress = True  # tqdm progress bar.
  return c


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


def load_config(path: str | Path, arg: str | None = None) -> ml_collections.ConfigDict:
  """``get_config(arg)`` of the config file at ``path`` (what ``--config=path:arg`` gives the CLI)."""
  path = Path(path)
  spec = importlib.util.spec_from_file_location(f"jaxtricks_config_{path.stem}", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(arg)


def sibling_config(file: str, name: str, arg: str | None = None) -> ml_collections.ConfigDict:
  """:func:`load_config` of ``<name>.py`` in the directory of ``file``: lets one recipe build on another.

  Config files are loaded by path, not as a package, so they cannot import each other directly::

    def get_config(arg=None):
      c = sibling_config(__file__, "cifar10_resnet32", "imbalance=100")
  """
  return load_config(Path(file).with_name(f"{name}.py"), arg)


def parse_flags(argv):
  """absl flag parsing, with a locked config's "no such key" turned into a one-line error."""
  try:
    return absl_flags.FLAGS(argv)
  except (AttributeError, KeyError) as e:
    while e.args and isinstance(e.args[0], BaseException):  # ml_collections nests KeyError in AttributeError.
      e = e.args[0]
    detail = " ".join(str(e.args[0] if e.args else e).split("\n"))
    sys.exit(f"error in a --config override: no such key {detail}")
