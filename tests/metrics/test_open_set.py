import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from jaxtricks.metrics.open_set import (known_unknown_split, official_ood_metrics, open_set_aupr,
                                        open_set_auroc, oscr)
from tests.conftest import golden_cases, load_golden


@pytest.mark.parametrize("path", golden_cases("relational", "osr_eval_metrics*.npz"))
def test_matches_the_official_evaluation(path):
  g = load_golden(path)
  known, novel = g["known_scores"], g["novel_scores"]
  assert 100 * open_set_auroc(known, novel, ties="official") == pytest.approx(float(g["auroc"]), abs=1e-9)
  assert 100 * open_set_auroc(known, novel) == pytest.approx(float(g["sklearn_auroc_x100"]), abs=1e-9)
  official = official_ood_metrics(known, novel)
  for key in ("auroc", "tnr_at_tpr95", "dtacc", "auin", "auout"):
    assert official[key] == pytest.approx(float(g[key]), abs=1e-9), key
  assert oscr(g["oscr_pred_known"], g["oscr_pred_unknown"], g["oscr_labels"]) == pytest.approx(
      float(g["oscr"]), abs=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_auroc_and_aupr_equal_sklearn_with_ties(seed):
  rng = np.random.default_rng(seed)
  known = rng.integers(0, 12, 40) / 4.0  # Many ties, within and across the two sets.
  unknown = rng.integers(0, 10, 30) / 4.0
  y = np.r_[np.ones(40), np.zeros(30)]
  s = np.r_[known, unknown]
  assert open_set_auroc(known, unknown) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
  pr = open_set_aupr(known, unknown)
  assert pr["aupr_known"] == pytest.approx(average_precision_score(y, s), abs=1e-12)
  assert pr["aupr_unknown"] == pytest.approx(average_precision_score(1 - y, -s), abs=1e-12)


def test_known_unknown_split():
  known, unknown = known_unknown_split(10, 6, seed=3)
  assert len(known) == 6 and len(unknown) == 4 and set(known) | set(unknown) == set(range(10))
  assert not np.array_equal(known, known_unknown_split(10, 6, seed=4)[0])
