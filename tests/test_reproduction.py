"""Long reproduction runs (``pytest -m slow``); CI runs the configs' :smoke variants instead."""

import pytest

from jaxtricks.experiments.stats import paired
from jaxtricks.training import fit
from jaxtricks.training.config import load_config

SEEDS = range(5)  # The project's rule for a claim; at seeds 0–2 the verdict was "direction only".


@pytest.mark.slow
def test_default_recipe_beats_the_no_trick_baseline_on_the_same_seeds(tmp_path):
  """The default recipe's claim, judged as docs/results.md judges claims: paired over the same seeds,
  verdict "yes" (the 95 % t interval above 0). A fixed floor (> 0.975) let a baseline seed pass.
  Seeds 0–2 (2026-12-02): default 98.33, 98.89, 99.06; baseline 97.19, 97.19, 98.69 → +1.1
  [−0.6, +2.7], "direction only"."""
  accuracy = {}
  for recipe in ("default", "digits_baseline"):
    for seed in SEEDS:
      config = load_config(recipe, f"seed={seed}")
      config.progress = False
      final, _ = fit(config, tmp_path / f"{recipe}_{seed}")
      accuracy.setdefault(recipe, {})[seed] = final["eval/balanced_accuracy"]
  claim = paired(accuracy["default"], accuracy["digits_baseline"])
  assert claim.verdict == "yes", (claim.describe(), accuracy)
