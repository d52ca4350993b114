"""The InfoGAN and relation-network experiments' tables and plots from recorded rows."""

import numpy as np

from jaxtricks.experiments import infogan, relational


def test_infogan_report_has_one_row_per_lambda():
  rows = [{"info_weight": w, "seed": s, "code_accuracy_real": 0.1 + w * 0.7 + 0.01 * s,
           "code_accuracy_generated": 0.1 + w * 0.6} for w in (1.0, 0.0) for s in range(3)]
  text = infogan.report(rows)
  assert "| InfoGAN (λ = 1) | 81.0 ± 0.8 | 70.0 ± 0.0 |" in text
  assert "| GAN (λ = 0) | 11.0 ± 0.8 | 10.0 ± 0.0 |" in text


def test_relational_report_and_curves(tmp_path):
  rows = [{"model": m, "seed": s, "epochs": 2, "relational": r, "nonrelational": 0.9,
           "curve": [{"epoch": e, "relational": r * e / 2, "nonrelational": 0.9} for e in (1, 2)]}
          for m, r in (("rn", 0.8), ("cnn_mlp", 0.6)) for s in range(2)]
  text = relational.report(rows, tmp_path)
  assert "| RN | 2 | 80.0 ± 0.0 | 90.0 ± 0.0 |" in text and "| CNN+MLP | 2 | 60.0" in text
  assert (tmp_path / "curves.png").stat().st_size > 0
  assert np.isclose(rows[0]["curve"][0]["relational"], 0.4)
