"""Sort-of-CLEVR: rendering and every question's answer against the reference generator's recorded
tables (golden; ternary answers where the reference's float rounding is not decisive)."""

import numpy as np
import pytest

from jaxtricks.data import sort_of_clevr as soc
from tests.conftest import golden_cases, load_golden

NOT_TABLES = ("shape_masks", "cvt_coord", "answer_stats")
TABLES = [case for case in golden_cases("relational", "sortofclevr_*.npz")
          if not any(name in case.id for name in NOT_TABLES)]  # Files with object tables.


def _version(g):
  return "2017" if g["all_norel_questions"].shape[-1] == 11 else "head"


@pytest.mark.parametrize("path", TABLES)
def test_render_draws_the_reference_images(path):
  g = load_golden(path)
  np.testing.assert_array_equal(soc.render(g["objects_xy"], g["objects_shape"]), g["images_u8"])


@pytest.mark.parametrize("path", TABLES)
def test_every_question_is_asked_and_answered_as_recorded(path):
  g = load_golden(path)
  xy, shapes, version = g["objects_xy"], g["objects_shape"], _version(g)
  n = len(xy)
  rows = np.arange(18)
  color, subtype = np.broadcast_to(rows // 3, (n, 18)), np.broadcast_to(rows % 3, (n, 18))
  rel = "rel" if version == "2017" else "binary"
  np.testing.assert_array_equal(soc.encode_questions(0, color, subtype, version), g["all_norel_questions"])
  np.testing.assert_array_equal(soc.encode_questions(1, color, subtype, version), g[f"all_{rel}_questions"])
  np.testing.assert_array_equal(soc.nonrelational_answers(xy, shapes, color, subtype), g["all_norel_answers"])
  np.testing.assert_array_equal(soc.nonrelational_answers(xy, shapes, color, subtype, py2_division=True),
                                g["all_norel_answers_py2div"])
  np.testing.assert_array_equal(soc.relational_answers(xy, shapes, color, subtype), g[f"all_{rel}_answers"])
  if version == "head":
    pairs = [(a, b) for a in range(6) for b in range(6) if a != b]
    a = np.broadcast_to(np.repeat([p[0] for p in pairs], 3), (n, 90))
    b = np.broadcast_to(np.repeat([p[1] for p in pairs], 3), (n, 90))
    sub = np.broadcast_to(np.tile(np.arange(3), 30), (n, 90))
    np.testing.assert_array_equal(soc.encode_questions(2, a, sub, version, b), g["all_ternary_questions"])
    robust = g["all_ternary_fragile_kind"] != 2  # Kind 2: the last bit of arccos decides.
    got = soc.ternary_answers(xy, shapes, a, b, sub)
    np.testing.assert_array_equal(got[robust], g["all_ternary_answers"][robust])


@pytest.mark.parametrize("path", golden_cases("relational", "sortofclevr_*_seed*_n4.npz"))
def test_sampled_questions_follow_the_rules(path):
  g = load_golden(path)
  xy, shapes, version = g["objects_xy"], g["objects_shape"], _version(g)
  rel = "rel" if version == "2017" else "binary"
  for kind, name, answer in ((0, "norel", soc.nonrelational_answers), (1, rel, soc.relational_answers)):
    color, subtype = g[f"{name}_color"], g[f"{name}_subtype"]
    np.testing.assert_array_equal(soc.encode_questions(kind, color, subtype, version), g[f"{name}_questions"])
    np.testing.assert_array_equal(answer(xy, shapes, color, subtype), g[f"{name}_answers"])


def test_shape_masks_and_colours_are_the_references():
  g = load_golden(golden_cases("relational", "sortofclevr_shape_masks.npz")[0].values[0])
  np.testing.assert_array_equal(soc.RECT_MASK, g["rect_mask"])
  np.testing.assert_array_equal(soc.CIRCLE_MASK, g["circle_mask"])
  np.testing.assert_array_equal(soc.COLORS_BGR, g["colors_bgr"])


def test_cell_coordinates_match_cvt_coord():
  g = load_golden(golden_cases("relational", "sortofclevr_cvt_coord.npz")[0].values[0])
  np.testing.assert_array_equal(soc.cell_coordinates("cell"), g["coord_py2"])
  np.testing.assert_array_equal(soc.cell_coordinates("py3"), g["coord_py3"])
  with pytest.raises(ValueError, match="coordinates must be"):
    soc.cell_coordinates("py4")


@pytest.mark.parametrize("version", ["2017", "head"])
def test_generated_scenes_obey_the_rules_and_are_deterministic(version):
  a, b = soc.generate(5, 30, version=version), soc.generate(5, 30, version=version)
  for key in a:
    np.testing.assert_array_equal(a[key], b[key])
  xy = a["objects_xy"]
  d2 = np.sum((xy[:, :, None] - xy[:, None]) ** 2, -1) + 1000 * np.eye(6, dtype=int)
  assert d2.min() >= 100 and xy.min() >= 5 and xy.max() < 70
  kinds = 3 if version == "head" else 2
  assert a["questions"].shape == (30, 10 * kinds, soc.QUESTION_SIZE[version])
  assert np.bincount(a["kinds"].ravel()).tolist() == [300] * kinds
  assert set(np.unique(a["answers"])) <= set(range(10))
  np.testing.assert_array_equal(a["images"], soc.render(xy, a["objects_shape"]))


def test_answer_statistics_are_close_to_the_references():
  g = load_golden(golden_cases("relational", "sortofclevr_answer_stats_seed1.npz")[0].values[0])
  ours = soc.generate(0, 2000)
  for kind, name in ((0, "v2017_norel_answer_hist"), (1, "v2017_rel_answer_hist")):
    ref = g[name].sum(0) / g[name].sum()  # Answer frequencies over all subtypes.
    got = np.bincount(ours["answers"][ours["kinds"] == kind], minlength=10) / (2000 * 10)
    np.testing.assert_allclose(got, ref, atol=0.01)
