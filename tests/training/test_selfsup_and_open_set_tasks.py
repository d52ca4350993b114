"""The SLA and open-set tasks of the trainer, in every mode, end to end on smoke settings."""

import pytest

from jaxtricks.experiments.common import fit_validated
from jaxtricks.training import fit
from jaxtricks.training.config import load_config
from tests.conftest import REPO


@pytest.mark.parametrize("mode,extra", [("sla", "eval/accuracy_single"),
                                        ("sla_sd", "eval/accuracy_aggregated"),
                                        ("da", None), ("mt", None)])
def test_sla_modes_train_and_report_their_predictions(tmp_path, mode, extra):
  config = load_config(REPO / "configs" / "digits_sla.py", f"smoke,mode={mode}")
  config.progress = False
  final, _ = fit(config, tmp_path)
  assert 0 <= final["eval/accuracy"] <= 1
  if extra:
    assert 0 <= final[extra] <= 1


@pytest.mark.parametrize("loss", ["softmax", "rpl", "arpl"])
def test_open_set_losses_train_and_report_open_set_metrics(tmp_path, loss):
  config = load_config(REPO / "configs" / "digits_open_set.py", f"smoke,loss={loss}")
  config.progress = False
  if loss == "rpl":
    config.open_set.num_centers = 2
  final, state = fit(config, tmp_path)
  for key in ("eval/accuracy", "eval/auroc", "eval/aupr_known", "eval/aupr_unknown", "eval/oscr"):
    assert 0 <= final[key] <= 1
  if loss != "softmax":
    assert state.params["points"].shape == (6 * config.open_set.num_centers, 32)


def test_open_set_validation_split_of_known_digits_reports_closed_set_accuracy_only(tmp_path):
  config = load_config(REPO / "configs" / "digits_open_set.py", "smoke,loss=rpl")
  config.progress = False
  validation, test = fit_validated(config, tmp_path)
  assert set(k for k in validation if k.startswith("eval/")) == {"eval/accuracy"}
  assert {"eval/accuracy", "eval/auroc", "eval/oscr"} <= set(test)
