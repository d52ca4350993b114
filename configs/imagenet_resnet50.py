"""ImageNet, ResNet-50-D: Bag of Tricks' recipe (He et al., CVPR 2019; GluonCV's ``resnet50_v1d``).

ResNet-50-D with zero-γ, no decay on biases and BatchNorm, Nesterov SGD (momentum 0.9, weight decay
1e-4), LR 0.1 per 256 examples (0.4 at the batch of 1024), 5 warm-up epochs then cosine, 120 epochs,
label smoothing 0.1, bfloat16 compute. Random-resized crop to 224 and flip, decoded on the host;
evaluation resizes the shorter side to 256 and keeps the centre 224. ``:mixup``: mixup α = 0.2 for 200
epochs, never switched off (the GluonCV mixup row).

Streams TFDS ``imagenet2012`` (an ArrayRecord build: ``tfds build imagenet2012
--file_format=array_record``), or ``:source=folder`` / ``:source=array_record`` with
``--config.dataset.path=DIR`` holding ``train/`` and ``val/`` (``python -m jaxtricks.data.prepare``
writes the ArrayRecord shards):

  python -m jaxtricks.training --config=imagenet_resnet50 --config.dataset.data_dir=~/tensorflow_datasets
  python -m jaxtricks.training --config=imagenet_resnet50:source=folder --config.dataset.path=~/imagenet
  python -m jaxtricks.training --config=imagenet_resnet50:smoke   # a generated folder, seconds
"""

from jaxtricks.data.digit_folder import digit_folder
from jaxtricks.training.config import base_config, parse_arg

SOURCES = ("tfds", "folder", "array_record")


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seed=0, mixup=False, source="tfds")
  if arg.source not in SOURCES:
    raise ValueError(f"config argument source must be one of {SOURCES}, got {arg.source!r}")
  c = base_config()
  c.seed = arg.seed
  c.dtype = "bfloat16"
  # Decoding on a many-core accelerator host: 8 processes × 2 threads (a starting point, not measured).
  c.dataset.update(source=arg.source, image_size=224, eval_resize=256, standardize=True, workers=8,
                   threads=2)
  if arg.source == "tfds":
    c.dataset.update(tfds_name="imagenet2012", streaming=True, train_split="train",
                     test_split="validation")
  else:
    c.dataset.update(train_split="train", test_split="val")

  c.model.name = "resnet"
  c.model.resnet.update(depth=50, layout="imagenet", variant="d", zero_gamma=True)

  c.optim.update(name="sgd", lr=0.1, reference_batch=256, momentum=0.9, nesterov=True, weight_decay=1e-4,
                 no_bias_decay=True, schedule="cosine", warmup_epochs=5)
  c.train.update(batch_size=1024, num_epochs=120, label_smoothing=0.1)
  if arg.mixup:
    c.train.update(mixup_alpha=0.2, num_epochs=200)
  c.eval_batch_size = 1024
  c.eval_every_epochs = 1
  c.log_every_steps = 100
  c.checkpoint_every_steps = 1000
  if arg.smoke:
    c.dtype = "float32"
    c.dataset.update(source="folder", path=str(digit_folder()), train_split="train", test_split="test",
                     image_size=32, eval_resize=36, workers=0, threads=2)
    c.model.resnet.update(depth=18, width=4)
    c.train.update(batch_size=40, num_epochs=2)
    c.optim.warmup_epochs = 1
    c.eval_batch_size = 40
    c.log_every_steps = 1
    c.checkpoint_every_steps = 4
  return c
