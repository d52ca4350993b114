"""The one evaluation loop: sums added over devices and batches, rows in data set order without the
padding of the last batch, the same on 8 devices and on one."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxtricks.data import ArrayDataset
from jaxtricks.parallel import DataParallel
from jaxtricks.tasks.evaluation import BatchEvaluator, EvalOut
from jaxtricks.training.trainer import _check_finite


def _eval_step(state, batch):
  mask = batch["mask"]
  return EvalOut({"count": jnp.sum(mask), "label_sum": jnp.sum(jnp.where(mask, batch["label"], 0))},
                 {"label": batch["label"], "scaled": state * batch["image"][:, 0, 0, 0]})


def _finalize(sums, rows):
  return {"sums": sums, "rows": rows}


@pytest.fixture(scope="module")
def dataset():
  labels = np.arange(37) % 10
  images = np.broadcast_to(np.arange(37, dtype=np.float32)[:, None, None, None], (37, 2, 2, 1)).copy()
  return ArrayDataset(images, labels, 10)


@pytest.mark.parametrize("parallel", [("mesh", 8), ("mesh", 1), ("pmap", 8)])
def test_rows_come_back_in_data_set_order_without_padding(dataset, parallel):
  out = BatchEvaluator(_eval_step, dataset, _finalize, batch_size=16,
                       parallel=DataParallel(*parallel)).run(jnp.float32(2.0))
  np.testing.assert_array_equal(out["rows"]["label"], dataset.labels)
  np.testing.assert_array_equal(out["rows"]["scaled"], 2.0 * np.arange(37))
  assert int(out["sums"]["count"]) == 37 and int(out["sums"]["label_sum"]) == dataset.labels.sum()


def test_full_batches_only_leaves_out_the_partial_batch(dataset):
  out = BatchEvaluator(_eval_step, dataset, _finalize, batch_size=16, parallel=DataParallel(),
                       full_batches_only=True).run(jnp.float32(1.0))
  assert int(out["sums"]["count"]) == 32 and len(out["rows"]["label"]) == 32
  with pytest.raises(ValueError, match="eval_batch_size=64 exceeds the 37 test examples"):
    BatchEvaluator(_eval_step, dataset, _finalize, batch_size=64, parallel=DataParallel(),
                   full_batches_only=True)


class _Checkpoints:
  directory = "ckpt"

  def latest_step(self):
    return 8


def test_every_loss_metric_is_checked_for_nan():
  pending = [(9, {"loss": np.float32(1.0), "d_loss": np.float32(0.5)}),
             (10, {"loss": np.float32(1.0), "d_loss": np.float32(np.nan), "lr": np.float32(np.nan)})]
  with pytest.raises(FloatingPointError, match=r"training d_loss is nan at step 10;.*\(step 8\)"):
    _check_finite(pending, _Checkpoints())
  assert len(_check_finite(pending[:1], _Checkpoints())) == 1


def _independent_metrics(model, variables, images, labels, num_classes):
  """Loss, accuracy, balanced accuracy and per-class recall of the network in inference mode on the
  whole test split, in float64 NumPy and scikit-learn from its logits."""
  from scipy.special import log_softmax
  from sklearn.metrics import balanced_accuracy_score, recall_score
  logits = np.asarray(model.apply(variables, jnp.asarray(images), train=False)[0], np.float64)
  predicted = logits.argmax(1)
  return {"eval/loss": float(-log_softmax(logits, 1)[np.arange(len(labels)), labels].mean()),
          "eval/accuracy": float(np.mean(predicted == labels)),
          "eval/balanced_accuracy": float(balanced_accuracy_score(labels, predicted)),
          "eval/per_class_recall": recall_score(labels, predicted, average=None,
                                                labels=np.arange(num_classes), zero_division=0)}


def _check_against(final, independent):
  """The float32 evaluation against the float64 one: the loss is a mean of per-example
  cross-entropies of magnitude ~1 whose logits agree to ~1e-6; counts are exact."""
  assert final["eval/loss"] == pytest.approx(independent["eval/loss"], rel=1e-5)
  assert final["eval/accuracy"] == independent["eval/accuracy"]
  assert final["eval/balanced_accuracy"] == pytest.approx(independent["eval/balanced_accuracy"], abs=1e-12)
  np.testing.assert_allclose(final["eval/per_class_recall"], independent["eval/per_class_recall"],
                             atol=1e-6)  # Rounded to 6 digits in the record.


def test_the_evaluation_is_the_network_in_inference_mode_on_the_untransformed_test_split(tmp_path):
  """Training-time transforms on (crop, flip, label smoothing, mixup, dropout): the evaluation must
  use none of them, the BatchNorm statistics and the split's own labels."""
  from jaxtricks.data import build_datasets
  from jaxtricks.inference import load_run
  from jaxtricks.training import fit, load_config
  config = load_config("digits_teacher", "smoke")  # A ResNet: BatchNorm statistics matter.
  config.progress = False
  config.augment.update(crop_padding=2, flip=True)
  config.train.update(label_smoothing=0.3, mixup_alpha=0.4, num_epochs=3)
  final, _ = fit(config, tmp_path)
  run = load_run(tmp_path)
  _, test = build_datasets(config.dataset)
  _check_against(final, _independent_metrics(run.model(), run.variables, test.images, test.labels, 10))


def test_a_streamed_evaluation_is_the_network_on_the_evaluation_crops_standardised(tmp_path):
  """Streamed: the evaluation crop of each file (shorter side to eval_resize, the centre image_size),
  then (x / 255 − mean) / std with the configured statistics, computed here in NumPy."""
  from jaxtricks.data import build_datasets
  from jaxtricks.data.digit_folder import write_digit_folder
  from jaxtricks.data.images import decode_crop
  from jaxtricks.inference import load_run
  from jaxtricks.training import base_config, fit
  folder = write_digit_folder(tmp_path / "digits", per_class={"train": 8, "test": 4}, classes=3,
                              sizes=(24, 64))
  c = base_config()
  c.dataset.update(source="folder", path=str(folder), image_size=16, eval_resize=20,
                   pixel_mean=(0.3, 0.4, 0.5), pixel_std=(0.2, 0.25, 0.3))
  c.model.name = "resnet"
  c.model.resnet.update(depth=8, width=4)
  c.train.update(batch_size=8, num_epochs=3)
  c.update(eval_batch_size=8, eval_every_epochs=3, progress=False)
  final, _ = fit(c, tmp_path / "run")
  _, test = build_datasets(c.dataset)
  crops = np.stack([decode_crop(open(p, "rb").read(), size=16, resize=20) for p in test.source.paths])
  images = (crops / 255.0 - np.array(c.dataset.pixel_mean)) / np.array(c.dataset.pixel_std)
  run = load_run(tmp_path / "run")
  _check_against(final, _independent_metrics(run.model(), run.variables, images.astype(np.float32),
                                             test.labels, 3))
