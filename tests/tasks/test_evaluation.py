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
