"""Sort-of-CLEVR (Santoro et al., NeurIPS 2017), generated with the rules of kimhc6028/relational-networks'
``sort_of_clevr_generator.py``: ``version="2017"`` (11-d questions, the original release) or ``"head"``
(18-d questions with ternary ones), from NumPy's ``default_rng(seed)`` (not the reference's streams).

Scene: 75×75 white canvas, six objects, object ``k`` of colour ``k`` (red, green, blue, orange, gray,
yellow; BGR as the reference's OpenCV calls), centre ``(x, y)`` (x = column, y = row) uniform in
``[5, 70)`` and redrawn until its squared distance to every earlier centre is ≥ 100, a rectangle
(11×11 pixels) or a circle (radius 5: the 81 pixels with ``dx² + dy² ≤ 25``) with probability ½,
drawn in colour order (later objects over earlier ones).

Questions about colour X. Non-relational: 0 its shape (answer 2 rectangle / 3 circle); 1 is it on the
left (``x < 75/2``; 0 yes / 1 no); 2 is it on the top (``y < 75/2``). Relational (binary): 0 the shape
of the object closest to X (X's own squared distance replaced by 999, so when all others are farther
than √999 the answer is X's own shape); 1 the shape of the furthest; 2 how many *other* objects share
X's shape (answer 4 + count). Ties go to the lower colour index. Ternary (head; colours A ≠ B drawn
from the first five): 0 how many other objects lie in the closed box spanned by A and B; 1 does any
other object lie within 12 (vertically) of the line through A and B (slope ``dy / (dx + 1e-10)``);
2 how many other objects C make a triangle ABC with an angle in [90°, 180°). Counts answer 4 + count.
Answers index ``ANSWERS``.

Coordinates: images are ``[row = y, column = x]``; the reference feeds ``np.swapaxes(img, 0, 2)``,
i.e. ``[C, x, y]``, so its 5×5 feature cell ``i`` has ``i // 5`` along x. The networks here read
``[y, x]`` and give cell ``i`` = (row ``i // 5``, column ``i % 5``) the coordinates
``((i // 5 − 2) / 2, (i % 5 − 2) / 2)``: each cell its own position (the Python 2 reference's
``cvt_coord``), not Python 3's ``(i / 5 − 2) / 2`` (:func:`cell_coordinates`, ``"py3"``, keeps it).
"""

from __future__ import annotations

import numpy as np

from jaxtricks.data.datasets import ArrayDataset

SIZE = 75
NUM_OBJECTS = 6
ANSWERS = ("yes", "no", "rectangle", "circle", "r", "g", "b", "o", "k", "y")
COLORS_BGR = np.array([(0, 0, 255), (0, 255, 0), (255, 0, 0), (0, 156, 255), (128, 128, 128),
                       (0, 255, 255)], np.uint8)
QUESTION_SIZE = {"2017": 11, "head": 18}
_OFFSETS = np.arange(-5, 6)
RECT_MASK = np.ones((11, 11), bool)
CIRCLE_MASK = _OFFSETS[:, None] ** 2 + _OFFSETS[None, :] ** 2 <= 25


def random_objects(rng: np.random.Generator, num_images: int) -> tuple[np.ndarray, np.ndarray]:
  """Centres ``[N, 6, 2]`` (x, y) and shapes ``[N, 6]`` (0 rectangle, 1 circle) of random scenes."""
  xy = np.zeros((num_images, NUM_OBJECTS, 2), np.int64)
  for n in range(num_images):
    for k in range(NUM_OBJECTS):
      while True:
        centre = rng.integers(5, SIZE - 5, 2)
        if k == 0 or (np.sum((xy[n, :k] - centre) ** 2, axis=1) >= 100).all():
          break
      xy[n, k] = centre
  return xy, (rng.random((num_images, NUM_OBJECTS)) >= 0.5).astype(np.int64)


def render(xy: np.ndarray, shapes: np.ndarray) -> np.ndarray:
  """uint8 images ``[N, 75, 75, 3]`` (rows = y, columns = x, BGR) of the scenes."""
  images = np.full((len(xy), SIZE, SIZE, 3), 255, np.uint8)
  for n in range(len(xy)):
    for k in range(NUM_OBJECTS):
      x, y = xy[n, k]
      window = images[n, y - 5:y + 6, x - 5:x + 6]
      window[CIRCLE_MASK if shapes[n, k] else RECT_MASK] = COLORS_BGR[k]
  return images


def nonrelational_answers(xy, shapes, color, subtype, *, py2_division: bool = False) -> np.ndarray:
  """Answers to the non-relational questions ``(color, subtype)`` (arrays ``[N, Q]``) of each scene;
  ``py2_division``: "left"/"top" as ``< 75 // 2`` (the Python 2 reference)."""
  n = np.arange(len(xy))[:, None]
  x, y = xy[n, color, 0], xy[n, color, 1]
  half = SIZE // 2 if py2_division else SIZE / 2
  return np.select([subtype == 0, subtype == 1], [2 + shapes[n, color], np.where(x < half, 0, 1)],
                   np.where(y < half, 0, 1))


def relational_answers(xy, shapes, color, subtype) -> np.ndarray:
  """Answers to the binary relational questions ``(color, subtype)`` ``[N, Q]``."""
  n = np.arange(len(xy))[:, None]
  d2 = np.sum((xy[:, None, :, :] - xy[:, :, None, :]) ** 2, axis=-1)  # [N, 6, 6]
  d2 = d2[n, color]  # [N, Q, 6]
  own = np.arange(NUM_OBJECTS) == color[..., None]
  closest = np.argmin(np.where(own, 999, d2), axis=-1)  # First index: ties to the lower colour.
  furthest = np.argmax(d2, axis=-1)
  same = np.sum((shapes[:, None, :] == shapes[n, color][..., None]) & ~own, axis=-1)
  return np.select([subtype == 0, subtype == 1], [2 + shapes[n, closest], 2 + shapes[n, furthest]],
                   4 + same)


def ternary_answers(xy, shapes, a, b, subtype) -> np.ndarray:
  """Answers to the ternary questions (colours ``a``, ``b``, ``subtype``, each ``[N, Q]``), float64
  arithmetic as the reference's (the band test and the angles depend on it at exact boundaries)."""
  n = np.arange(len(xy))[:, None]
  pa, pb = xy[n, a].astype(np.float64), xy[n, b].astype(np.float64)  # [N, Q, 2]
  pc = xy[:, None, :, :].astype(np.float64)  # [N, 1, 6, 2]
  other = (np.arange(NUM_OBJECTS) != a[..., None]) & (np.arange(NUM_OBJECTS) != b[..., None])
  lo, hi = np.minimum(pa, pb)[..., None, :], np.maximum(pa, pb)[..., None, :]
  between = np.sum(other & np.all((pc >= lo) & (pc <= hi), axis=-1), axis=-1)
  slope = (pb[..., 1] - pa[..., 1]) / ((pb[..., 0] - pa[..., 0]) + 1e-10)
  offset = pa[..., 1] - slope * pa[..., 0]
  line = slope[..., None] * pc[..., 0] + offset[..., None]
  on_band = np.any(other & (line - 12 <= pc[..., 1]) & (pc[..., 1] <= line + 12), axis=-1)
  side_a = np.linalg.norm(pb[..., None, :] - pc, axis=-1)
  side_b = np.linalg.norm(pc - pa[..., None, :], axis=-1)
  side_c = np.linalg.norm(pa - pb, axis=-1)[..., None]
  with np.errstate(invalid="ignore", divide="ignore"):
    angles = np.rad2deg(np.arccos(np.stack([
        (side_b**2 + side_c**2 - side_a**2) / (2 * side_b * side_c),
        (side_a**2 + side_c**2 - side_b**2) / (2 * side_a * side_c),
        (side_a**2 + side_b**2 - side_c**2) / (2 * side_a * side_b)])))
  largest = np.max(angles, axis=0)
  obtuse = np.sum(other & (largest >= 90) & (largest < 180), axis=-1)
  return np.select([subtype == 0, subtype == 1], [4 + between, np.where(on_band, 0, 1)], 4 + obtuse)


def encode_questions(kind: int, color, subtype, version: str = "2017", color2=None) -> np.ndarray:
  """One-hot question vectors ``[..., 11 | 18]``; ``kind`` 0 non-relational, 1 binary relational,
  2 ternary (head only, second colour ``color2``)."""
  q = np.zeros(np.shape(color) + (QUESTION_SIZE[version],))
  np.put_along_axis(q, np.asarray(color)[..., None], 1.0, -1)
  if version == "2017":
    q[..., 6 + kind] = 1.0
    np.put_along_axis(q, 8 + np.asarray(subtype)[..., None], 1.0, -1)
  else:
    if kind == 2:
      np.put_along_axis(q, 6 + np.asarray(color2)[..., None], 1.0, -1)
    q[..., 12 + kind] = 1.0
    np.put_along_axis(q, 15 + np.asarray(subtype)[..., None], 1.0, -1)
  return q


def generate(seed: int, num_images: int, *, version: str = "2017",
             questions_per_kind: int = 10) -> dict[str, np.ndarray]:
  """Scenes and their questions: ``images`` uint8 ``[N, 75, 75, 3]``, ``objects_xy``,
  ``objects_shape``, and ``questions [N, Q, 11 | 18]``, ``answers [N, Q]``, ``kinds [N, Q]`` with
  ``questions_per_kind`` questions of each kind (non-relational, relational, and ternary for head),
  colours and subtypes uniform."""
  if version not in QUESTION_SIZE:
    raise ValueError(f"version must be one of {sorted(QUESTION_SIZE)}, got {version!r}")
  rng = np.random.default_rng(seed)
  xy, shapes = random_objects(rng, num_images)
  shape = (num_images, questions_per_kind)
  questions, answers, kinds = [], [], []
  for kind, answer in enumerate((nonrelational_answers, relational_answers)):
    color, subtype = rng.integers(0, NUM_OBJECTS, shape), rng.integers(0, 3, shape)
    questions.append(encode_questions(kind, color, subtype, version))
    answers.append(answer(xy, shapes, color, subtype))
    kinds.append(np.full(shape, kind))
  if version == "head":
    pairs = np.argsort(rng.random(shape + (NUM_OBJECTS - 1,)), axis=-1)[..., :2]  # A ≠ B in 0..4.
    subtype = rng.integers(0, 3, shape)
    questions.append(encode_questions(2, pairs[..., 0], subtype, version, pairs[..., 1]))
    answers.append(ternary_answers(xy, shapes, pairs[..., 0], pairs[..., 1], subtype))
    kinds.append(np.full(shape, 2))
  return {"images": render(xy, shapes), "objects_xy": xy, "objects_shape": shapes,
          "questions": np.concatenate(questions, 1).astype(np.float32),
          "answers": np.concatenate(answers, 1), "kinds": np.concatenate(kinds, 1)}


def cell_coordinates(convention: str = "cell") -> np.ndarray:
  """``[25, 2]`` coordinates of the RN's 5×5 feature cells, cell ``i`` = row ``i // 5``, column
  ``i % 5`` of the map: ``cell`` → ``((i // 5 − 2) / 2, (i % 5 − 2) / 2)`` (each cell its own position,
  as the Python 2 reference computes); ``py3`` → ``((i / 5 − 2) / 2, (i % 5 − 2) / 2)``, the float
  division that the reference's ``cvt_coord`` gives under Python 3 (first coordinate not the row)."""
  i = np.arange(25)
  if convention not in ("cell", "py3"):
    raise ValueError(f"coordinates must be 'cell' or 'py3', got {convention!r}")
  first = (i // 5 if convention == "cell" else i / 5) - 2
  return np.stack([first / 2, (i % 5 - 2) / 2], axis=1)


def sort_of_clevr_datasets(seed: int, num_train: int, num_test: int, *,
                           version: str = "2017") -> tuple[ArrayDataset, ArrayDataset]:
  """Train and test scenes (different seeds) as ``images`` ``[N, 75, 75, 3]`` in [0, 1] (RGB) with
  ``extras`` ``questions``, ``answers`` and ``kinds`` (``[N, Q, ...]``: every question of a scene
  travels with it); ``labels`` are the first question's answers."""

  def split(split_seed, n):
    g = generate(split_seed, n, version=version)
    images = g["images"][..., ::-1].astype(np.float32) / 255.0
    return ArrayDataset(images, g["answers"][:, 0].astype(np.int32), len(ANSWERS),
                        {k: g[k] for k in ("questions", "answers", "kinds")})

  return split([seed, 0], num_train), split([seed, 1], num_test)
