"""The stacked Bag-of-Tricks experiment: its rows are the recipes they name, and its report gives each
row's validation and test accuracy."""

import pytest

from jaxtricks.experiments import bag_of_tricks
from jaxtricks.training.config import load_config


def _flat(config, prefix=""):
  out = {}
  for key, value in config.items():
    if hasattr(value, "items"):
      out.update(_flat(value, f"{prefix}{key}."))
    else:
      out[f"{prefix}{key}"] = value
  return out


def _differences(a, b):
  a, b = _flat(a.to_dict()), _flat(b.to_dict())
  diff = {k: (a.get(k), b.get(k)) for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
  if a["optim.schedule"] == b["optim.schedule"] == "cosine":
    diff.pop("optim.decay_epochs", None)  # Unused by the cosine schedule.
  return diff


@pytest.mark.parametrize("smoke", [False, True])
def test_first_row_is_the_baseline_and_the_default_row_is_the_default_recipe(smoke):
  arg = f"smoke={smoke},seed=1"
  assert not _differences(bag_of_tricks.row_config("baseline", 1, smoke), load_config("digits_baseline", arg))
  default = bag_of_tricks.row_config(bag_of_tricks.DEFAULT, 1, smoke)
  assert not _differences(default, load_config("default", arg))


def test_rows_stack_each_trick_on_the_previous_row():
  names = [name for name, _ in bag_of_tricks.STACK]
  for previous, (name, values) in zip(names, bag_of_tricks.STACK[1:]):
    diff = _differences(bag_of_tricks.row_config(name, 0), bag_of_tricks.row_config(previous, 0))
    assert set(diff) - {"optim.decay_epochs"} == set(values), name
  with pytest.raises(ValueError, match="row must be one of"):
    bag_of_tricks.row_overrides("+ fp16")


def test_report_gives_validation_and_test_accuracy_per_row(tmp_path):
  rows = [{"row": row, "seed": s, "val_accuracy": val, "balanced_accuracy": test}
          for row, values in (("baseline", ((0.94, 0.95), (0.96, 0.97))),
                              ("+ cosine", ((0.97, 0.96), (0.99, 0.99))))
          for s, (val, test) in enumerate(values)]
  bag_of_tricks.write_report(rows, tmp_path)
  text = (tmp_path / "results.md").read_text()
  assert "| + cosine | 2 | 98.0 ± 1.4 | 97.5 ± 2.1 |" in text
  assert (tmp_path / "results.jsonl").read_text().count("\n") == 4
  assert (tmp_path / "results.png").stat().st_size > 0
