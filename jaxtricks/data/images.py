"""Host-side decoding of encoded images (JPEG, PNG, WebP) into fixed-size uint8 crops.

Training: Inception-style random-resized crop (Szegedy et al., CVPR 2015; as torchvision's
``RandomResizedCrop`` and Bag of Tricks: area fraction ``U(0.08, 1)``, log-uniform aspect ratio in
``[3/4, 4/3]``, ten tries, then a centre crop of the clamped ratio), resized to ``size × size``, and a
horizontal flip with probability 1/2. Evaluation: shorter side resized to ``resize`` (256 for 224) and
the centre ``size × size`` kept.

**Decode-and-crop.** Only the header is read (PIL) to choose the crop; a JPEG is then decoded
(OpenCV, libjpeg-turbo) at the smallest DCT scale (1/1, 1/2, 1/4, 1/8) at which the crop still has
``size`` pixels on each side, and only the crop window is resampled. Normalisation and the on-device
augmentations happen on the device; the images leave here as uint8.
"""

from __future__ import annotations

import io
import math
from typing import Sequence

import cv2
import numpy as np
from PIL import Image

Box = tuple[float, float, float, float]  # left, top, width, height in pixels of the full image.


class BadImageError(ValueError):
  """An encoded image that cannot be decoded."""


def random_resized_crop_box(rng: np.random.Generator, width: int, height: int, *,
                            scale: Sequence[float] = (0.08, 1.0),
                            ratio: Sequence[float] = (3 / 4, 4 / 3), tries: int = 10) -> Box:
  """The crop of an Inception-style random-resized crop of a ``width × height`` image."""
  area = width * height
  log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
  for _ in range(tries):
    target = area * rng.uniform(*scale)
    aspect = math.exp(rng.uniform(*log_ratio))
    w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
    if 0 < w <= width and 0 < h <= height:
      return float(rng.integers(0, width - w + 1)), float(rng.integers(0, height - h + 1)), w, h
  in_ratio = width / height
  if in_ratio < min(ratio):
    w, h = width, round(width / min(ratio))
  elif in_ratio > max(ratio):
    w, h = round(height * max(ratio)), height
  else:
    w, h = width, height
  return (width - w) / 2, (height - h) / 2, w, h


def center_crop_box(width: int, height: int, *, size: int, resize: int) -> Box:
  """The window that "resize the shorter side to ``resize``, keep the centre ``size × size``" keeps."""
  side = min(width, height) * size / resize
  return (width - side) / 2, (height - side) / 2, side, side


def _size(encoded: bytes) -> tuple[int, int]:
  """``(width, height)`` from the header alone."""
  try:
    return Image.open(io.BytesIO(encoded)).size
  except Exception as e:  # PIL raises UnidentifiedImageError, OSError, SyntaxError, ...
    raise BadImageError(str(e)) from None


# OpenCV decodes a JPEG at 1/1, 1/2, 1/4 or 1/8 of its size by DCT scaling; EXIF orientation is
# ignored, as PIL (and torchvision's ImageFolder) ignore it.
_DECODE_AT = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
              8: cv2.IMREAD_REDUCED_COLOR_8}


def decode_crop(encoded: bytes, *, size: int, rng: np.random.Generator | None = None,
                scale: Sequence[float] = (0.08, 1.0), ratio: Sequence[float] = (3 / 4, 4 / 3),
                flip: bool = True, resize: int = 256) -> np.ndarray:
  """``[size, size, 3]`` uint8 RGB: a random-resized crop (and flip) with ``rng``; without it the
  evaluation crop (shorter side to ``resize``, centre ``size``). :class:`BadImageError` says why an
  image cannot be decoded.

  After DCT scaling the window is less than twice ``size`` (below the 1/8 cap), so it is resampled
  bilinearly; a window still twice as large is averaged over areas (antialiased)."""
  width, height = _size(encoded)
  if rng is None:
    left, top, w, h = center_crop_box(width, height, size=size, resize=resize)
  else:
    left, top, w, h = random_resized_crop_box(rng, width, height, scale=scale, ratio=ratio)
  reduce = max(1, min(8, 2 ** int(math.log2(max(1.0, min(w, h) / size)))))
  image = cv2.imdecode(np.frombuffer(encoded, np.uint8),
                       _DECODE_AT[reduce] | cv2.IMREAD_IGNORE_ORIENTATION)
  if image is None:
    raise BadImageError("OpenCV read no pixels (truncated or corrupt)")
  fy, fx = image.shape[0] / height, image.shape[1] / width
  y0, x0 = int(top * fy), int(left * fx)
  window = image[y0:y0 + max(1, round(h * fy)), x0:x0 + max(1, round(w * fx))]
  coarse = min(window.shape[:2]) >= 2 * size  # Only at the 1/8 cap: a shrink DCT scaling left.
  pixels = cv2.resize(window, (size, size), interpolation=cv2.INTER_AREA if coarse else cv2.INTER_LINEAR)
  pixels = pixels[:, :, ::-1]  # BGR → RGB.
  if rng is not None and flip and rng.random() < 0.5:
    pixels = pixels[:, ::-1]
  return np.ascontiguousarray(pixels)
