"""A generated image folder for the streamed path: scikit-learn's digits drawn at random sizes and
aspect ratios, in a random background colour with the ink 96–160 levels away in every channel, saved
as JPEG and PNG in ``root/<split>/<class>/<image>``. The streaming tests, the input-pipeline benchmark
and the ImageNet recipes' ``:smoke`` runs read it; it needs no download.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from jaxtricks.paths import local_path


def write_digit_folder(root: str | os.PathLike, *, per_class: dict[str, int] | None = None,
                       classes: int = 10, sizes: tuple[int, int] = (40, 400), seed: int = 0,
                       formats: tuple[str, ...] = ("jpg", "png"), noise: float = 0.0,
                       colours: bool = True) -> Path:
  """Writes ``per_class[split]`` images of each of the first ``classes`` digits for every split
  (default ``{"train": 20, "test": 5}``); width and height are drawn from ``sizes`` independently;
  image ``i`` of a class is saved in ``formats[i % len(formats)]``; ``noise``: the standard deviation
  of per-pixel Gaussian noise (texture that makes files the size of photographs'); without ``colours``
  white digits on black. Returns ``root``."""
  from sklearn.datasets import load_digits

  per_class = per_class or {"train": 20, "test": 5}
  digits = load_digits()
  rng = np.random.default_rng(seed)
  root = local_path(root, "root")
  for split, count in per_class.items():
    for label in range(classes):
      folder = root / split / f"digit_{label}"
      folder.mkdir(parents=True, exist_ok=True)
      pool = digits.images[digits.target == label] / 16.0
      for i in range(count):
        ink = pool[rng.integers(len(pool))][..., None]
        background = rng.uniform(0, 255, size=3) if colours else np.zeros(3)
        foreground = (background + rng.uniform(96, 160, size=3)) % 256 if colours else np.full(3, 255.0)
        pixels = (background + ink * (foreground - background)).astype(np.uint8)
        width, height = (int(s) for s in rng.integers(sizes[0], sizes[1] + 1, size=2))
        image = Image.fromarray(pixels).resize((width, height), Image.Resampling.BILINEAR)
        if noise:
          grain = rng.normal(0.0, noise, (height, width, 3))
          image = Image.fromarray(np.clip(np.asarray(image) + grain, 0, 255).astype(np.uint8))
        image.save(folder / f"{split}_{i:05d}.{formats[i % len(formats)]}", quality=90)
  return root


GENERATOR_VERSION = 2  # Part of the cached folder's name: a changed generator writes a new folder.


def digit_folder(name: str = "smoke", **options) -> Path:
  """:func:`write_digit_folder` with ``options``, written once into the temporary directory
  (``jaxtricks-generated/<name>-v<GENERATOR_VERSION>``) and reused; concurrent callers see it complete
  or not at all."""
  root = Path(tempfile.gettempdir()) / "jaxtricks-generated" / f"{name}-v{GENERATOR_VERSION}"
  if not root.is_dir():
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root.parent))
    write_digit_folder(staging, **options)
    try:
      staging.rename(root)
    except OSError:  # Another process was first.
      shutil.rmtree(staging, ignore_errors=True)
  return root
