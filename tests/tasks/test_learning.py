"""Every task learns in seconds on the embedded digits: its test metric ends well above chance and well
above the same network untrained, and its training loss falls. A step that never updates the
parameters, or trains on wrong targets, fails here."""

import json

import ml_collections
import pytest

from jaxtricks.data import build_datasets
from jaxtricks.parallel import DataParallel
from jaxtricks.tasks import TASKS
from jaxtricks.tasks.base import Data
from jaxtricks.training import fit
from jaxtricks.training.config import load_config

# recipe, argument, epochs, metric, floor, how much better than the untrained network (signed:
# a loss must fall).
CASES = {
    "classification": ("digits_student", "smoke", 5, "eval/accuracy", 0.85, 0.5),
    "metric_learning": ("digits_metric_student", "smoke", 8, "eval/recall@1", 0.95, 0.04),
    "sla": ("digits_sla", "smoke", 5, "eval/accuracy", 0.6, 0.4),
    "open_set": ("digits_open_set", "smoke,loss=arpl", 5, "eval/auroc", 0.8, 0.2),
    "infomax": ("digits_dim", "smoke", 5, "eval/infomax_loss", None, -1.0),
    "multitask": ("synthetic_mmoe", "smoke", 3, "eval/loss", 0.5, -1.0),
    "infogan": ("digits_infogan", "smoke", 10, "eval/code_accuracy_real", 0.2, 0.08),
    # Sort-of-CLEVR in seconds: the answers' dependence on the question (about half the questions).
    "relational": ("sort_of_clevr_rn", "smoke", 4, "eval/accuracy", 0.35, 0.2),
    # 10 % of the training split labelled; the pseudo-label term on the rest.
    "semi_supervised": ("digits_semi", "smoke,method=pseudo_label,randaugment=0", 5, "eval/accuracy", 0.8,
                        0.6),
}
WIDTH = {"infogan": 0.25, "multitask": None, "relational": None}  # Else 16 channels.


@pytest.mark.parametrize("task", sorted(CASES))
def test_each_task_learns_in_seconds(tmp_path, task):
  recipe, arg, epochs, metric, floor, gain = CASES[task]
  config = load_config(recipe, arg)
  config.update(progress=False, eval_every_epochs=epochs)
  config.train.num_epochs = epochs
  if task == "infogan":
    config.infogan.width = WIDTH[task]
  elif WIDTH.get(task, 16):
    config.model[config.model.name].width = WIDTH.get(task, 16)
  if task == "infogan":  # Only the code's accuracy through Q: no classifier to train.
    config.infogan.classifier = ml_collections.ConfigDict()
  if task == "relational":
    config.dataset.update(num_train=256, num_test=40)
  if task == "semi_supervised":  # Lee's T1: a network near chance would confirm its own noise.
    config.semi.update(alpha_t1=2.0, alpha_t2=4.0)
  if task == "metric_learning":  # Recall@K on the training classes: unseen ones are a transfer test.
    config.dataset.test_classes = config.dataset.train_classes
  data = Data(*build_datasets(config.dataset))
  fresh = TASKS[config.task].from_config(config, data, runs=None)
  parallel = DataParallel(config.parallel)
  evaluator, *_ = fresh.evaluators(data.test, batch_size=config.eval_batch_size, parallel=parallel)
  untrained = evaluator.run(parallel.replicate(fresh.init(config.seed)))[metric]

  final, _ = fit(config, tmp_path, datasets=data)
  if floor is not None and gain > 0:
    assert final[metric] >= floor, (untrained, final[metric])
  elif floor is not None:  # A loss: at most the floor.
    assert final[metric] <= floor, (untrained, final[metric])
  assert (final[metric] - untrained) * (1 if gain > 0 else -1) >= abs(gain), (untrained, final[metric])
  losses = [json.loads(line)["train/loss"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()
            if "train/loss" in line]
  assert losses[-1] < losses[0] - 0.25 * abs(losses[0]), losses
