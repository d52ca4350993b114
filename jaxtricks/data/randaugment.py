"""RandAugment (Cubuk et al., NeurIPS 2020) and Cutout (DeVries & Taylor, 2017), batched on device.

Every op maps ``uint8 [H, W, C]`` to ``uint8`` (C = 1 or 3): it computes in float32, clamps to
[0, 255] and truncates, so the uint8 round trip after each op is part of the result, as in both
references. :func:`randaugment` draws, per example and per layer, an op uniformly and (for signed ops)
a sign with probability ½, under ``jit``/``vmap``/``shard_map``/``pmap``; keys follow the example's
global position.

Two policies, which differ in almost every constant:

* ``torchvision`` — ``torchvision.transforms.v2.RandAugment``: 14 ops, magnitude = bin ``M`` of
  ``num_magnitude_bins`` (default 9 of 31), fill 0, signed geometry *and* enhance ops, nearest
  sampling on pixel centres (``grid_sample``, ``align_corners=False``), Sharpness blur rounded.
  torchvision draws one op for a whole batch; here each example draws its own.
* ``tf`` — the TPU / Noisy Student ``randaugment.py``: 16 ops (Invert, Cutout and SolarizeAdd added,
  Identity dropped), level ``M/10`` unclipped, fill 128, unsigned enhance factor ``1.8·M/10 + 0.1``,
  Solarize threshold ``256·M/10`` (``x < t`` kept), Posterize keeps ``int(4·M/10)`` bits, geometry in
  pixel-index space, Sharpness blur truncated, grey rounded, translate and Cutout constants
  ``image_size // 8`` (Noisy Student's 32×32 setting). Contrast reproduces the official histogram
  bug (the "mean" is ``H·W/256``); ``tf_fixed_contrast`` uses the true mean grey level instead.
  The blends use torchvision's arithmetic (TF computes ``degenerate + f·(x − degenerate)``, which can
  round one unit apart); only the torchvision policy is checked against recorded outputs.
"""

from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxtricks.parallel import example_keys

POLICIES = ("torchvision", "tf", "tf_fixed_contrast")
TORCHVISION_OPS = ("Identity", "ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Brightness",
                   "Color", "Contrast", "Sharpness", "Posterize", "Solarize", "AutoContrast", "Equalize")
TF_OPS = ("AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize", "Color", "Contrast",
          "Brightness", "Sharpness", "ShearX", "ShearY", "TranslateX", "TranslateY", "Cutout",
          "SolarizeAdd")
TF_FILL = 128
GREY_WEIGHTS = (0.2989, 0.587, 0.114)


def _to_uint8(x: jax.Array) -> jax.Array:
  """Clamp to [0, 255] and truncate, as ``tensor.clamp_(0, 255).to(torch.uint8)``."""
  return jnp.clip(x, 0.0, 255.0).astype(jnp.uint8)


def _grey(x: jax.Array) -> jax.Array:
  """``[H, W, 1]`` float grey level ``0.2989 R + 0.587 G + 0.114 B`` (a grey image is its own)."""
  if x.shape[-1] == 1:
    return x
  r, g, b = x[..., 0], x[..., 1], x[..., 2]  # r.mul(w_r).add_(g, alpha=w_g).add_(b, alpha=w_b)
  grey = fused_multiply_add(g, GREY_WEIGHTS[1], r * GREY_WEIGHTS[0])
  return fused_multiply_add(b, GREY_WEIGHTS[2], grey)[..., None]


# --- geometry -------------------------------------------------------------------------------------

def _sample_nearest(image: jax.Array, src_x: jax.Array, src_y: jax.Array, fill: float,
                    rounding) -> jax.Array:
  """Output pixel ``(i, j)`` = ``image[round(src_y), round(src_x)]``, or ``fill`` outside."""
  h, w = image.shape[:2]
  ix, iy = rounding(src_x).astype(jnp.int32), rounding(src_y).astype(jnp.int32)
  inside = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
  picked = image[jnp.clip(iy, 0, h - 1), jnp.clip(ix, 0, w - 1)]
  return jnp.where(inside[..., None], picked, jnp.asarray(fill, image.dtype))


def _torchvision_warp(image: jax.Array, theta: jax.Array, fill: float) -> jax.Array:
  """``F.affine`` / ``F.rotate`` with nearest sampling: ``theta [2, 3]`` is the inverse map of output
  pixel centres relative to the image centre; the grid is rescaled by ``W/2`` and un-normalised as
  ``grid_sample(align_corners=False)`` does, then rounded half to even."""
  h, w = image.shape[:2]
  x = jnp.arange(w, dtype=jnp.float32) - (w - 1) / 2
  y = jnp.arange(h, dtype=jnp.float32) - (h - 1) / 2
  x, y = x[None, :], y[:, None]
  scale = jnp.array([[0.5 * w], [0.5 * h]], jnp.float32)
  t = theta / scale
  gx = x * t[0, 0] + y * t[0, 1] + t[0, 2]
  gy = x * t[1, 0] + y * t[1, 1] + t[1, 2]
  src_x = ((gx + 1.0) * w - 1.0) / 2.0
  src_y = ((gy + 1.0) * h - 1.0) / 2.0
  return _sample_nearest(image, src_x, src_y, fill, jnp.round)


def _tf_warp(image: jax.Array, matrix: jax.Array, fill: float) -> jax.Array:
  """TF ``contrib.image.transform`` (nearest): output index ``(x, y)`` reads input
  ``(a0 x + a1 y + a2, b0 x + b1 y + b2)``, rounded half away from zero."""
  h, w = image.shape[:2]
  x = jnp.arange(w, dtype=jnp.float32)[None, :]
  y = jnp.arange(h, dtype=jnp.float32)[:, None]
  src_x = matrix[0, 0] * x + matrix[0, 1] * y + matrix[0, 2]
  src_y = matrix[1, 0] * x + matrix[1, 1] * y + matrix[1, 2]
  return _sample_nearest(image, src_x, src_y, fill, lambda v: jnp.sign(v) * jnp.floor(jnp.abs(v) + 0.5))


def _theta(a, b, c, d, e, f):
  return jnp.stack([jnp.stack([a, b, c]), jnp.stack([d, e, f])]).astype(jnp.float32)


def _rotation(degrees):
  """Inverse rotation about the centre (positive = counter-clockwise): ``[cos, −sin; sin, cos]``."""
  rad = jnp.deg2rad(jnp.asarray(degrees, jnp.float32))
  c, s, zero = jnp.cos(rad), jnp.sin(rad), jnp.zeros((), jnp.float32)
  return _theta(c, -s, zero, s, c, zero)


def _tv_geometry(op: str, image: jax.Array, m: jax.Array, fill: float) -> jax.Array:
  """torchvision's Shear (``center=[0, 0]``, the top-left corner), Translate (``int()`` truncation)
  and Rotate, as the inverse affine matrices ``_get_inverse_affine_matrix`` builds."""
  h, w = image.shape[:2]
  one, zero = jnp.ones((), jnp.float32), jnp.zeros((), jnp.float32)
  m = jnp.asarray(m, jnp.float32)
  if op == "ShearX":
    theta = _theta(one, m, m * (h / 2), zero, one, zero)
  elif op == "ShearY":
    theta = _theta(one, zero, zero, m, one, m * (w / 2))
  elif op == "TranslateX":
    theta = _theta(one, zero, -jnp.trunc(m), zero, one, zero)
  elif op == "TranslateY":
    theta = _theta(one, zero, zero, zero, one, -jnp.trunc(m))
  else:
    theta = _rotation(m)
  return _torchvision_warp(image, theta, fill)


def _tf_geometry(op: str, image: jax.Array, m: jax.Array, fill: float) -> jax.Array:
  h, w = image.shape[:2]
  one, zero = jnp.ones((), jnp.float32), jnp.zeros((), jnp.float32)
  m = jnp.asarray(m, jnp.float32)
  if op == "ShearX":
    matrix = _theta(one, m, zero, zero, one, zero)
  elif op == "ShearY":
    matrix = _theta(one, zero, zero, m, one, zero)
  elif op == "TranslateX":
    matrix = _theta(one, zero, m, zero, one, zero)
  elif op == "TranslateY":
    matrix = _theta(one, zero, zero, zero, one, m)
  else:  # Rotate about ((W − 1)/2, (H − 1)/2), as angles_to_projective_transforms.
    rot = _rotation(m)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    matrix = rot.at[0, 2].set(cx - rot[0, 0] * cx - rot[0, 1] * cy)
    matrix = matrix.at[1, 2].set(cy - rot[1, 0] * cx - rot[1, 1] * cy)
  return _tf_warp(image, matrix, fill)


# --- colour ---------------------------------------------------------------------------------------

def _two_sum(a, b):
  s = a + b
  bb = s - a
  return s, (a - (s - bb)) + (b - bb)


def _split(a):
  t = 4097.0 * a  # 2^12 + 1: a float32 into two 12-bit halves (Veltkamp).
  hi = t - (t - a)
  return hi, a - hi


def _two_product(a, b):
  p = a * b
  (ah, al), (bh, bl) = _split(a), _split(b)
  return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def correctly_rounded_divide(a: jax.Array, b: jax.Array) -> jax.Array:
  """``a / b`` rounded as IEEE division: XLA:CPU's vectorised divide can be one unit off (255.0 for
  ``248 / 0.9725491`` where IEEE gives 254.99998, truncated to 254 by torchvision), so the quotient
  is corrected by its exact residual."""
  q = a / b
  p, p_err = _two_product(q, b)
  return q + ((a - p) - p_err) / b


def fused_multiply_add(a: jax.Array, b: jax.Array, c: jax.Array) -> jax.Array:
  """``a·b + c`` rounded once, in float32 (Dekker's exact product, then an exact sum).

  torch evaluates ``x.add_(y, alpha=α)`` on CPU as a fused multiply-add; XLA rounds ``a·b`` first. The
  two differ by one unit before truncation to uint8 on up to 10 % of the pixels of a strong blend."""
  a, b, c = (jnp.asarray(v, jnp.float32) for v in (a, b, c))
  p, p_err = _two_product(a, b)
  s, s_err = _two_sum(p, c)
  return s + (p_err + s_err)


def _blend(x: jax.Array, degenerate: jax.Array, delta) -> jax.Array:
  """``x·f + degenerate·(1 − f)`` with ``f = 1 + delta``, clamped and truncated (torchvision's
  ``_blend``: ``x.mul(f).add_(degenerate, alpha=1 − f)``, where ``1 − f`` is exactly ``−delta``)."""
  delta = jnp.asarray(delta, jnp.float32)
  return _to_uint8(fused_multiply_add(degenerate, -delta, x * (1.0 + delta)))


def brightness(image: jax.Array, delta) -> jax.Array:
  """Scale by ``f = 1 + delta``."""
  return _to_uint8(image.astype(jnp.float32) * (1.0 + jnp.asarray(delta, jnp.float32)))


def color(image: jax.Array, delta, *, grey_rounding=jnp.floor) -> jax.Array:
  """Blend with the grey image by ``f = 1 + delta`` (torchvision floors the grey level; TF rounds it)."""
  x = image.astype(jnp.float32)
  return _blend(x, grey_rounding(_grey(x)), delta)


def contrast(image: jax.Array, delta, *, mean: str = "grey") -> jax.Array:
  """Blend with a constant by ``f = 1 + delta``: the mean floored grey level (``grey``), or TF's
  ``H·W/256`` (``tf_histogram_bug``; truncated to uint8 as TF's degenerate image is)."""
  x = image.astype(jnp.float32)
  if mean == "grey":
    level = jnp.mean(jnp.floor(_grey(x)))
  else:
    level = jnp.floor(jnp.float32(x.shape[0] * x.shape[1] / 256.0))
  return _blend(x, level, delta)


def sharpness(image: jax.Array, delta, *, blur_rounding=jnp.round) -> jax.Array:
  """Blend the interior with the 3×3 ``[[1,1,1],[1,5,1],[1,1,1]]/13`` blur by ``f = 1 + delta``
  (border unchanged); torchvision rounds the blur, TF truncates it."""
  x = jnp.asarray(image, jnp.float32)
  h, w = x.shape[:2]
  if h <= 2 or w <= 2:
    return image
  a, b = np.float32(1.0 / 13.0), np.float32(5.0 / 13.0)
  blur = sum((b if (di, dj) == (1, 1) else a) * x[di:h - 2 + di, dj:w - 2 + dj]
             for di in range(3) for dj in range(3))
  blur = blur_rounding(blur)
  interior = x[1:-1, 1:-1]
  interior = fused_multiply_add(blur - interior, -jnp.asarray(delta, jnp.float32), interior)
  return _to_uint8(x.at[1:-1, 1:-1].set(interior))


def posterize(image: jax.Array, bits) -> jax.Array:
  """Keep the ``bits`` most significant bits (``bits`` in [0, 8])."""
  shift = 8 - jnp.clip(jnp.asarray(bits, jnp.int32), 0, 8)
  mask = jnp.left_shift(jnp.int32(255), shift) & 255
  return (image.astype(jnp.int32) & mask).astype(jnp.uint8)


def solarize(image: jax.Array, threshold) -> jax.Array:
  """Invert pixels ``>= threshold``, compared in float32 (torchvision v2; TF's
  ``where(x < threshold, x, 255 − x)`` is the same rule)."""
  inverted = jnp.uint8(255) - image
  return jnp.where(image.astype(jnp.float32) >= jnp.asarray(threshold, jnp.float32), inverted, image)


def solarize_add(image: jax.Array, addition, threshold: int = 128) -> jax.Array:
  """TF's SolarizeAdd: pixels below ``threshold`` get ``+addition`` (clipped)."""
  added = jnp.clip(image.astype(jnp.int32) + jnp.asarray(addition, jnp.int32), 0, 255).astype(jnp.uint8)
  return jnp.where(image < threshold, added, image)


def invert(image: jax.Array) -> jax.Array:
  return jnp.uint8(255) - image


def autocontrast(image: jax.Array) -> jax.Array:
  """Per channel ``(x − min) / ((max − min)/255)``; a constant channel is unchanged."""
  x = image.astype(jnp.float32)
  lo, hi = x.min(axis=(0, 1)), x.max(axis=(0, 1))
  same = hi == lo
  inv_scale = jnp.where(same, 1.0, (hi - lo) * np.float32(1.0 / 255.0))
  return _to_uint8(correctly_rounded_divide(x - jnp.where(same, 0.0, lo), inv_scale))


def equalize(image: jax.Array) -> jax.Array:
  """PIL's histogram equalisation per channel, in integers:
  ``step = (N − hist[last non-zero]) // 255``, ``lut[k] = min(255, (cdf[k−1] + step//2) // step)``,
  unchanged when ``step == 0``."""

  def channel(c):
    hist = jnp.zeros(256, jnp.int32).at[c.reshape(-1).astype(jnp.int32)].add(1)
    last = 255 - jnp.argmax(hist[::-1] > 0)
    step = (c.size - hist[last]) // 255
    safe = jnp.maximum(step, 1)
    cdf = jnp.concatenate([jnp.zeros(1, jnp.int32), jnp.cumsum(hist)[:-1]])
    lut = jnp.minimum((cdf + step // 2) // safe, 255)
    return jnp.where(step == 0, c, lut[c.astype(jnp.int32)].astype(jnp.uint8))

  return jnp.stack([channel(image[..., k]) for k in range(image.shape[-1])], axis=-1)


def cutout_one(key: jax.Array, image: jax.Array, *, size: int, fill=0) -> jax.Array:
  """Cutout of one image: a ``size × size`` square at a uniform centre, clipped at the borders."""
  h, w = image.shape[:2]
  ky, kx = jax.random.split(key)
  cy, cx = jax.random.randint(ky, (), 0, h), jax.random.randint(kx, (), 0, w)
  rows, cols = jnp.arange(h)[:, None], jnp.arange(w)[None, :]
  size = jnp.asarray(size, jnp.int32)
  half = size // 2
  inside = (rows >= cy - half) & (rows < cy - half + size) & (cols >= cx - half) & (cols < cx - half + size)
  return jnp.where(inside[..., None], jnp.asarray(fill, image.dtype), image)


def cutout(rng: jax.Array, images: jax.Array, *, size: int, fill=0,
           axis_name: str | None = None) -> jax.Array:
  """Cutout (DeVries & Taylor, 2017) on ``[B, H, W, C]``: per example a ``size × size`` square centred
  uniformly in the image (so it may be cut by the border) is set to ``fill``."""
  if size < 0:
    raise ValueError(f"cutout size must be >= 0, got {size}")
  if size == 0:
    return images
  one = functools.partial(cutout_one, size=size, fill=fill)
  return jax.vmap(one)(example_keys(rng, images.shape[0], axis_name), images)


# --- ops and magnitudes ---------------------------------------------------------------------------

def torchvision_op(image: jax.Array, op: str, magnitude, *, fill: float = 0) -> jax.Array:
  """One torchvision v2 RandAugment op on ``uint8 [H, W, C]`` with the (signed) value it receives
  from the magnitude table (see :func:`op_magnitudes`)."""
  image = jnp.asarray(image)
  if op == "Identity":
    return image
  if op in ("ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate"):
    return _tv_geometry(op, image, magnitude, fill)
  if op == "Brightness":
    return brightness(image, magnitude)
  if op == "Color":
    return color(image, magnitude)
  if op == "Contrast":
    return contrast(image, magnitude)
  if op == "Sharpness":
    return sharpness(image, magnitude)
  if op == "Posterize":
    return posterize(image, jnp.asarray(magnitude).astype(jnp.int32))
  if op == "Solarize":
    return solarize(image, 255.0 * jnp.asarray(magnitude, jnp.float32))
  if op == "AutoContrast":
    return autocontrast(image)
  if op == "Equalize":
    return equalize(image)
  raise ValueError(f"op must be one of {TORCHVISION_OPS}, got {op!r}")


def tf_op(image: jax.Array, op: str, magnitude, key: jax.Array | None = None, *,
          fill: float = TF_FILL, contrast_mean: str = "tf_histogram_bug") -> jax.Array:
  """One TF (Noisy Student) RandAugment op with the value :func:`op_magnitudes` gives it."""
  image = jnp.asarray(image)
  if op in ("ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate"):
    return _tf_geometry(op, image, magnitude, fill)
  m = jnp.asarray(magnitude, jnp.float32)
  if op == "Brightness":  # TF's enhance ops receive the factor itself.
    return brightness(image, m - 1.0)
  if op == "Color":
    return color(image, m - 1.0, grey_rounding=jnp.round)
  if op == "Contrast":
    return contrast(image, m - 1.0, mean=contrast_mean)
  if op == "Sharpness":
    return sharpness(image, m - 1.0, blur_rounding=jnp.trunc)
  if op == "Posterize":
    return posterize(image, m.astype(jnp.int32))
  if op == "Solarize":
    return solarize(image, m)
  if op == "SolarizeAdd":
    return solarize_add(image, m.astype(jnp.int32))
  if op == "AutoContrast":
    return autocontrast(image)
  if op == "Equalize":
    return equalize(image)
  if op == "Invert":
    return invert(image)
  if op == "Cutout":
    if key is None:
      raise ValueError("the Cutout op needs a key")
    return cutout_one(key, image, size=2 * m.astype(jnp.int32), fill=fill)  # TF's pad_size = int(m)
  raise ValueError(f"op must be one of {TF_OPS}, got {op!r}")


def torch_linspace(start: float, stop: float, num: int, *, simd_width: int = 16) -> np.ndarray:
  """``torch.linspace(start, stop, num)`` in float32 as its vectorised CPU kernel computes it: step
  ``(stop − start)/(num − 1)``; the first half counts up from ``start``, the second down from
  ``stop``, in chunks of ``simd_width`` (AVX-512) values ``base + k·step``, each a fused
  multiply-add. It differs from the correctly rounded table by one unit at some bins (bin 9 of the
  enhance table is 0.26999998, not 0.27000001), which moves truncated pixels."""
  f32 = np.float32
  start, stop = f32(start), f32(stop)
  step = f32((stop - start) / f32(num - 1))
  half = num // 2

  def fma(a, b, c):
    return f32(np.float64(a) * np.float64(b) + np.float64(c))

  def at(i):
    return fma(step, i, start) if i < half else fma(-step, num - i - 1, stop)

  out, i = np.empty(num, f32), 0
  while i < num:
    if num - i >= simd_width:
      base = at(i)
      out[i:i + simd_width] = [fma(k, step, base) for k in range(simd_width)]
      i += simd_width
    else:
      out[i] = at(i)
      i += 1
  return out


def op_magnitudes(policy: str, magnitude: float, image_size: int, *,
                  num_magnitude_bins: int = 31) -> dict[str, tuple[float, bool]]:
  """``op → (value, signed)`` for a policy: torchvision's value at bin ``magnitude`` of its float32
  ``linspace`` tables (:func:`torch_linspace`), or TF's ``level = magnitude/10`` scaled per op (unclipped)."""
  if policy == "torchvision":
    if not 0 <= magnitude < num_magnitude_bins or int(magnitude) != magnitude:
      raise ValueError(f"magnitude must be an integer bin in [0, {num_magnitude_bins}), got {magnitude}")
    b, n = int(magnitude), num_magnitude_bins

    def table(stop, start=0.0):
      return float(torch_linspace(start, stop, n)[b])

    return {
        "Identity": (0.0, False), "ShearX": (table(0.3), True), "ShearY": (table(0.3), True),
        "TranslateX": (table(150.0 / 331.0 * image_size), True),
        "TranslateY": (table(150.0 / 331.0 * image_size), True),
        "Rotate": (table(30.0), True), "Brightness": (table(0.9), True), "Color": (table(0.9), True),
        "Contrast": (table(0.9), True), "Sharpness": (table(0.9), True),
        "Posterize": (float(8 - np.round(np.arange(n, dtype=np.float32) / ((n - 1) / 4))[b]), False),
        "Solarize": (table(0.0, 1.0), False), "AutoContrast": (0.0, False), "Equalize": (0.0, False)}
  if policy in ("tf", "tf_fixed_contrast"):
    level = magnitude / 10.0
    enhance = level * 1.8 + 0.1
    const = image_size // 8
    return {
        "AutoContrast": (0.0, False), "Equalize": (0.0, False), "Invert": (0.0, False),
        "Rotate": (level * 30.0, True), "Posterize": (float(int(level * 4)), False),
        "Solarize": (float(int(level * 256)), False), "Color": (enhance, False),
        "Contrast": (enhance, False), "Brightness": (enhance, False), "Sharpness": (enhance, False),
        "ShearX": (level * 0.3, True), "ShearY": (level * 0.3, True),
        "TranslateX": (level * const, True), "TranslateY": (level * const, True),
        "Cutout": (level * const, False), "SolarizeAdd": (float(int(level * 110)), False)}
  raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")


def apply_grouped(images: jax.Array, op_index: jax.Array, values: jax.Array, keys: jax.Array,
                  branches, *, capacity: int) -> jax.Array:
  """``out[i] = branches[op_index[i]](images[i], values[i], keys[i])``, computing each op only on the
  examples that drew it: up to ``capacity`` of them at a time, gathered, transformed with ``vmap``
  and scattered back (a ``while_loop`` takes further rounds when more drew the op, so the result is
  exact for any draw). ``lax.switch`` under ``vmap`` would run every op on every example, and XLA
  then recomputes one layer's selection inside each op of the next."""
  images = jnp.asarray(images)
  b = images.shape[0]
  out = images
  for i, branch in enumerate(branches):
    mine = op_index == i
    apply = jax.vmap(branch)

    def body(carry, mine=mine, apply=apply):
      out, done = carry
      todo = mine & ~done
      rows = jnp.nonzero(todo, size=capacity, fill_value=b)[0]
      safe = jnp.minimum(rows, b - 1)
      result = apply(images[safe], values[safe], keys[safe])
      return out.at[rows].set(result, mode="drop"), done.at[rows].set(True, mode="drop")

    out, _ = lax.while_loop(lambda c, mine=mine: jnp.any(mine & ~c[1]), body,
                            (out, jnp.zeros(b, bool)))
  return out


def randaugment(rng: jax.Array, images: jax.Array, *, num_ops: int = 2, magnitude: float = 9,
                policy: str = "torchvision", num_magnitude_bins: int = 31,
                axis_name: str | None = None) -> jax.Array:
  """RandAugment on ``uint8 [B, H, W, C]``: ``num_ops`` layers, each a uniformly drawn op per example.

  Defaults are torchvision's (``N = 2``, bin 9 of 31); Noisy Student's SVHN setting is
  ``policy="tf", magnitude=5`` (with which Brightness, Color, Contrast and Sharpness are no-ops).
  Each op runs only on the examples that drew it (:func:`apply_grouped`).
  """
  chex.assert_rank(images, 4, custom_message="images must be uint8 [B, H, W, C]")
  chex.assert_type(images, jnp.uint8, custom_message="images must be uint8 (see to_uint8)")
  if num_ops < 0:
    raise ValueError(f"num_ops must be >= 0, got {num_ops}")
  table = op_magnitudes(policy, magnitude, images.shape[1], num_magnitude_bins=num_magnitude_bins)
  names = TORCHVISION_OPS if policy == "torchvision" else TF_OPS
  values = jnp.asarray([table[op][0] for op in names], jnp.float32)
  signed = jnp.asarray([table[op][1] for op in names])
  if policy == "torchvision":
    branches = [lambda x, m, k, op=op: torchvision_op(x, op, m) for op in names]
  else:
    mean = "grey" if policy == "tf_fixed_contrast" else "tf_histogram_bug"
    branches = [lambda x, m, k, op=op: tf_op(x, op, m, k, contrast_mean=mean) for op in names]
  b = images.shape[0]
  capacity = min(b, 2 * -(-b // len(names)) + 8)  # About twice the expected count per op.

  def draws(key):
    layers = []
    for layer_key in jax.random.split(key, num_ops):
      k_op, k_sign, k_op_rng = jax.random.split(layer_key, 3)
      idx = jax.random.randint(k_op, (), 0, len(names))
      negate = signed[idx] & (jax.random.uniform(k_sign) <= 0.5)
      layers.append((idx, jnp.where(negate, -values[idx], values[idx]), k_op_rng))
    return layers

  per_layer = jax.vmap(draws)(example_keys(rng, b, axis_name))
  for idx, value, key in per_layer:
    images = apply_grouped(images, idx, value, key, branches, capacity=capacity)
  return images


def to_uint8(images: jax.Array) -> jax.Array:
  """[0, 1] floats → uint8 (rounded), the input RandAugment expects."""
  return jnp.round(jnp.clip(images, 0.0, 1.0) * 255.0).astype(jnp.uint8)


def to_float(images: jax.Array) -> jax.Array:
  return images.astype(jnp.float32) / 255.0

