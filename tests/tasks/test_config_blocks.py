"""Each task has its own config blocks; options a task does not act on are rejected, not ignored."""

import pytest

from jaxtricks.tasks import TASKS
from jaxtricks.training import base_config, fit, set_task
from jaxtricks.training.config import load_config
from tests.conftest import REPO

BLOCKS = {name for family in TASKS.values() for name in family.config_blocks()}
assert {"loss", "distill", "m2m", "eval_pgd", "sla", "open_set", "infomax"} <= BLOCKS


@pytest.mark.parametrize("task", sorted(TASKS))
def test_a_config_has_exactly_the_blocks_of_its_task(task):
  c = set_task(base_config(), task)
  assert c.task == task
  assert BLOCKS & set(c.keys()) == set(TASKS[task].config_blocks())


def test_set_task_keeps_the_values_of_blocks_both_tasks_have():
  c = base_config()
  c.distill.kd_weight = 0.5
  c.loss.type = "focal"
  set_task(c, "metric_learning")
  assert c.distill.kd_weight == 0.5  # Both tasks distil.
  assert "type" not in c.loss and c.loss.margin == 0.2  # Another loss block.
  set_task(c, "sla")
  assert "distill" not in c and "loss" not in c and c.sla.mode == "sla"


@pytest.mark.parametrize("config, arg", [("digits_sla", "smoke"), ("digits_open_set", "smoke,loss=rpl"),
                                         ("digits_dim", "smoke"), ("digits_metric_teacher", "smoke")])
@pytest.mark.parametrize("key", ["label_smoothing", "mixup_alpha"])
def test_options_a_task_does_not_use_are_rejected(tmp_path, config, arg, key):
  c = load_config(REPO / "configs" / f"{config}.py", arg)
  c.train[key] = 0.2
  with pytest.raises(ValueError, match=rf"task='{c.task}' does not use train.{key} \(got 0.2\)"):
    fit(c, tmp_path)
  assert not (tmp_path / "checkpoints").exists()


def test_infomax_with_a_model_without_mi_networks_names_the_missing_output(tmp_path):
  """Any model that returns ``local_mi`` and ``global_mi`` trains Deep InfoMax; another one stops at
  its first step with the name of what it lacks."""
  c = load_config(REPO / "configs" / "digits_dim.py", "smoke")
  c.model.name = "cnn"
  with pytest.raises(ValueError, match="task='infomax' needs the model output 'local_mi'"):
    fit(c, tmp_path)


@pytest.mark.parametrize("key, value, match", [
    ("sla.mode", "rot", "sla.mode must be one of"),
    ("sla.transform", "flip", "sla.transform must be one of"),
])
def test_bad_sla_values_name_the_key(tmp_path, key, value, match):
  c = load_config(REPO / "configs" / "digits_sla.py", "smoke")
  section, field = key.split(".")
  c[section][field] = value
  with pytest.raises(ValueError, match=match):
    fit(c, tmp_path)
