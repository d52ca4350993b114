"""The MMoE experiment's seeds-in-one-program runs are the runs ``fit`` makes, seed by seed."""

import numpy as np

from jaxtricks.experiments.mmoe import _with_seed, report, train_seeds
from jaxtricks.training import fit
from jaxtricks.training.config import load_config


def test_vmapped_runs_equal_fit_runs_and_the_python_loop(tmp_path):
  config = load_config("synthetic_mmoe", "smoke,model=omoe,rho=0.5")
  config.progress = False
  vmapped, _ = train_seeds(config, 2)
  looped, _ = train_seeds(config, 2, vmapped=False)
  np.testing.assert_allclose(vmapped, looped, rtol=1e-5)
  for s in range(2):
    final, _ = fit(_with_seed(config, s), tmp_path / str(s))  # Through pmap over 8 devices.
    np.testing.assert_allclose(vmapped[s], [final["eval/mse_0"], final["eval/mse_1"]], rtol=1e-4)
  assert not np.allclose(vmapped[0], vmapped[1])
  shifted = _with_seed(config, 3)  # Run s: its own data and initialisation.
  assert (shifted.seed, shifted.dataset.split_seed) == (config.seed + 3, config.dataset.split_seed + 3)


def test_report_writes_tables_and_plots(tmp_path):
  rng = np.random.default_rng(0)
  rows = [{"model": m, "rho": r, "seed": s, "epochs": 1, "loss": float(rng.random())}
          for m in ("mmoe", "omoe", "shared_bottom") for r in (0.5, 0.8, 0.9, 1.0)
          for s in range(5 if r == 0.5 else 2)]
  text = report(rows, tmp_path, seeds=2, hist_rho=0.5)
  assert text.count("\n| mmoe |") == 2 and "ρ = 0.9" in text and "over 5 runs at ρ = 0.5" in text
  first = lambda m: [r["loss"] for r in rows if (r["model"], r["rho"]) == (m, 0.5) and r["seed"] < 2]  # noqa: E731
  assert f"| omoe | {np.mean(first('omoe')) - np.mean(first('mmoe')):+.4f} ± " in text  # The table's 2 seeds.
  assert (tmp_path / "loss_vs_rho.png").exists() and (tmp_path / "robustness.png").exists()
