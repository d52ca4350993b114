"""The relation-network sweep's image control, asked of the runs at the learning rate chosen on
validation: each test scene's questions about the next scene's image (the choice itself:
``test_reports``)."""

import jax
import numpy as np

from jaxtricks.data import build_datasets
from jaxtricks.experiments import relational
from jaxtricks.tasks import relational as relational_task
from jaxtricks.tasks.base import Data
from jaxtricks.training import fit


def test_the_image_control_asks_each_scenes_questions_about_the_next_scenes_image(tmp_path):
  rows = relational.run(1, "cpu", tmp_path, smoke=True, lrs=(1e-3,))
  trained = [r for r in rows if r["model"] != "question_only"]
  assert len(trained) == 2 and all("val_accuracy" in r and "config" not in r for r in trained)
  controlled = [r for r in trained if "relational_other_scenes" in r]
  assert sorted(r["model"] for r in controlled) == ["cnn_mlp", "rn"]

  # The CNN+MLP: at this smoke budget its answers already depend on the image (the RN's not yet).
  row = next(r for r in controlled if r["model"] == "cnn_mlp")
  config = relational.load_config("sort_of_clevr_rn", "smoke=True,seed=0,model=cnn_mlp")
  config.update_from_flattened_dict({"optim.lr": row["lr"], "progress": False, "dataset.val_fraction": 0.1,
                                     "dataset.evaluate_on": "test"})
  _, state = fit(config, tmp_path / f"cnn_mlp_lr{row['lr']:g}_seed0")
  train, test = build_datasets(config.dataset)
  task = relational_task.from_config(config, Data(train, test), runs=None)
  logits = task.infer(jax.device_get(state), (np.roll(test.images, 1, axis=0), test.extras["questions"]))
  hit = np.asarray(logits).argmax(-1) == test.extras["answers"]
  relational_kind = test.extras["kinds"] == relational.QUESTION_KINDS.index("relational")
  assert np.isclose(row["relational_other_scenes"], hit[relational_kind].mean())
  assert row["relational_other_scenes"] != row["relational"]  # So the check above sees the images move.
