"""Long reproduction runs (``pytest -m slow``); CI runs the configs' :smoke variants instead."""

import pytest

from jaxtricks.experiments.stats import paired
from jaxtricks.training import fit
from jaxtricks.training.config import load_config

SEEDS = (0, 1, 2)


@pytest.mark.slow
def test_default_recipe_beats_the_no_trick_baseline_on_the_same_seeds(tmp_path):
  """docs/results.md: 98.7 ± 0.2 against 97.3 ± 0.2 balanced accuracy, +1.4 paired. A fixed floor let
  the baseline's seed 2 (97.6) pass; the paired verdict does not."""
  accuracy = {}
  for recipe in ("default", "digits_baseline"):
    for seed in SEEDS:
      config = load_config(recipe, f"seed={seed}")
      config.progress = False
      final, _ = fit(config, tmp_path / f"{recipe}_{seed}")
      accuracy.setdefault(recipe, {})[seed] = final["eval/balanced_accuracy"]
  claim = paired(accuracy["default"], accuracy["digits_baseline"])
  assert claim.verdict == "yes", (claim.describe(), accuracy)
