import numpy as np
import pytest

from jaxtricks.data import build_datasets
from jaxtricks.experiments import m2m_filters
from jaxtricks.experiments.imbalance import recipe


def test_seed_filter_matches_its_expectation_under_m2m_seed_draw(tmp_path):
  rows = m2m_filters.filters(100.0, 0, tmp_path, per_class=64, smoke=True)
  assert [r["setting"] for r in rows] == [s[0] for s in m2m_filters.SETTINGS]
  counts = build_datasets(recipe("erm", "smoke,seed=0,imbalance=100", 0).dataset)[0].class_counts()
  for row in rows:
    # A seed of class c is drawn for target k with p ∝ 1 − β^gap and passes with that p: E = Σp² / Σp
    # (the pool holds as many digits of every class). A uniform seed draw would give mean(p) instead.
    gap = np.maximum(counts[None, :] - counts[:, None], 0)
    p = 1 - row["beta"] ** gap  # [target k, seed class c]
    has_seed = p.sum(1) > 0
    expected = np.mean((p ** 2).sum(1)[has_seed] / p.sum(1)[has_seed])
    assert row["beta_pass_all"] == pytest.approx(expected, abs=0.04)
    assert 0 <= row["confident"] <= 1 and row["move"] > 0
  by_name = {r["setting"]: r for r in rows}
  assert by_name["official"]["beta_pass"] < by_name["β = 0.99"]["beta_pass"] < by_name["β = 0.9"]["beta_pass"]
  # Longer, larger steps move the seed further than the official ones.
  assert by_name["η = 1, T = 20, λ = 0.1"]["move"] > by_name["official"]["move"]
