"""docs/results.md's claims and tables are the committed per-seed rows judged by one rule."""

import json

import pytest

from jaxtricks.experiments import claims, stats, tables


def test_results_page_is_the_text_regenerated_from_the_committed_rows():
  page = claims.PAGE.read_text()
  assert claims.render(page) == page, "run python -m jaxtricks.experiments.claims and commit the page"


def test_the_page_opens_with_the_verdict_rule_of_stats():
  page = claims.PAGE.read_text()
  assert page.index("<!-- generated: verdict_rule -->") < page.index("<!-- generated: claims -->")
  assert claims.verdict_rule() in page and "direction only" in stats.__doc__


def test_every_claim_has_at_least_five_paired_seeds():
  for c in claims.CLAIMS:
    result, *_ = claims.judge(c)
    assert result.n >= 5, (c.paper, c.claim, result.n)


def _write(tmp_path, name, rows):
  (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_a_temperature_is_chosen_on_validation_accuracy_and_reported_on_test(tmp_path):
  # Validation prefers T = 1; test AUROC would prefer T = 0.1: only T = 1's test values may enter.
  rows = [{"method": "softmax", "seed": s, "auroc": 0.80} for s in range(3)]
  rows += [{"method": "rpl", "temperature": 1.0, "seed": s, "val_accuracy": 0.9, "auroc": 0.85 + s / 100}
           for s in range(3)]
  rows += [{"method": "rpl", "temperature": 0.1, "seed": s, "val_accuracy": 0.8, "auroc": 0.99}
           for s in range(3)]
  _write(tmp_path, "open_set", rows)
  claim = next(c for c in claims.CLAIMS if c.paper.startswith("RPL"))
  result, method, control, note = claims.judge(claim, tmp_path)
  assert method == pytest.approx({0: 0.85, 1: 0.86, 2: 0.87})
  assert note == (" (temperature = 1, chosen on validation)", "")
  assert result.mean == pytest.approx(0.06) and result.verdict == "yes"


def test_a_gain_over_a_control_is_subtracted_seed_by_seed(tmp_path):
  rows = [{"method": m, "imbalance": f, "seed": s, "balanced_accuracy": a + (s if f == 100.0 else 0) / 100}
          for s in range(4) for f, gap in ((10.0, 0.01), (100.0, 0.05))
          for m, a in (("erm", 0.7), ("cb_focal", 0.7 + gap))]
  _write(tmp_path, "imbalance", rows)
  claim = next(c for c in claims.CLAIMS if "grows" in c.claim)
  result, method, control, _ = claims.judge(claim, tmp_path)
  # The per-seed offsets at IF=100 cancel in CB − ERM: the gains are 0.05 and 0.01 on every seed.
  assert method == pytest.approx({s: 0.05 for s in range(4)})
  assert control == pytest.approx({s: 0.01 for s in range(4)})
  assert result.verdict == "yes"


def test_a_page_without_one_of_the_blocks_is_refused():
  page = claims.PAGE.read_text()
  start = page.index("<!-- generated: dim -->")
  end = page.index("<!-- end: dim -->") + len("<!-- end: dim -->")
  with pytest.raises(ValueError, match="blocks"):
    claims.render(page[:start] + page[end:])


def test_a_setting_that_diverged_on_a_seed_is_not_chosen():
  rows = [{"method": "rpl", "temperature": 0.1, "seed": s, "val_accuracy": 0.99, "auroc": 0.9}
          for s in range(2)]
  rows += [{"method": "rpl", "temperature": 0.1, "seed": 2, "diverged": True}]
  rows += [{"method": "rpl", "temperature": 1.0, "seed": s, "val_accuracy": 0.5, "auroc": 0.8}
           for s in range(3)]
  assert claims.chosen_on_validation(rows, "temperature") == 1.0
  table = tables.summary_table(rows, ("method", "temperature"), {"AUROC": "auroc"})
  assert "| rpl, 0.1 | 3 (1 diverged) | 90.0 ± 0.0 |" in table


def test_rows_averaged_per_seed_must_differ_in_the_averaged_field():
  rows = [{"strategy": "margin", "seed": 0, "round": r, "test_accuracy": 0.5 + r / 10} for r in range(3)]
  arm = claims.Arm("margin, mean over rounds", {"strategy": "margin"}, mean_over="round")
  values, _ = claims.arm_values(rows, arm, "test_accuracy")
  assert values == pytest.approx({0: 0.6})
  with pytest.raises(ValueError, match="do not differ in round"):
    claims.arm_values(rows + rows[:1], arm, "test_accuracy")


def test_the_default_row_is_chosen_on_validation_among_the_candidates_only(tmp_path):
  # The baseline has the best validation accuracy but is not a candidate; of the two candidates
  # validation prefers "+ mixup", whose test values enter even though the other row's test is higher.
  rows = [{"row": row, "seed": s, "val_accuracy": val, "balanced_accuracy": test + s / 100}
          for s in range(3) for row, val, test in (("baseline", 0.99, 0.90), ("+ mixup", 0.95, 0.92),
                                                   ("+ logit adjustment − label smoothing", 0.94, 0.97))]
  _write(tmp_path, "bag_of_tricks", rows)
  claim = next(c for c in claims.CLAIMS if c.claim.startswith("the stacked tricks"))
  result, method, _, note = claims.judge(claim, tmp_path)
  assert note == (" (+ mixup, chosen on validation)", "")
  assert method == pytest.approx({s: 0.92 + s / 100 for s in range(3)})
  assert result.mean == pytest.approx(0.02)


def test_a_loss_claim_prints_at_its_own_scale(tmp_path):
  rows = [{"model": m, "rho": rho, "seed": s, "loss": loss + s / 1000}
          for s in range(3) for rho in (0.5, 1.0) for m, loss in (("mmoe", 0.0400), ("omoe", 0.0425),
                                                                   ("shared_bottom", 0.0450))]
  _write(tmp_path, "mmoe", rows)
  claim = next(c for c in claims.CLAIMS if c.data == "mmoe")
  table = claims.claims_table([claim], tmp_path)
  assert "| MMoE 0.0410 ± 0.0010 | OMoE 0.0435 ± 0.0010 | -0.0025 [-0.0025, -0.0025] |" in table
  assert table.endswith("| **yes** |")
