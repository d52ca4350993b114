"""DataParallel: the global batch's rows reach the devices in order on both paths, every output comes
back replicated, and bad choices are named."""

import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from jaxtricks.parallel import AXIS, DataParallel, example_positions


def _positions_and_rows(state, batch):
  """Each device's global example positions and rows, gathered over the axis; a pmean'd update."""
  n = batch["x"].shape[0]
  gathered = lax.all_gather({"position": example_positions(n), "x": batch["x"]}, AXIS, tiled=True)
  return state + lax.pmean(jnp.sum(batch["x"]), AXIS), gathered


@pytest.mark.parametrize("kind, num_devices", [("mesh", 8), ("mesh", 2), ("mesh", 1), ("pmap", 8)])
def test_rows_land_on_the_device_of_their_global_position(kind, num_devices):
  parallel = DataParallel(kind, num_devices)
  assert parallel.device_count == num_devices
  x = np.arange(16, dtype=np.float32) * 10
  state, out = parallel.step(_positions_and_rows)(parallel.replicate(jnp.float32(0)), {"x": x})
  np.testing.assert_array_equal(out["position"], np.arange(16))
  np.testing.assert_array_equal(out["x"], x)  # Row i sits at global position i.
  assert float(state) == pytest.approx(x.sum() / num_devices)
  assert state.sharding.is_fully_replicated


def test_mesh_state_is_donated_and_batches_are_global_arrays():
  parallel = DataParallel("mesh", 8)
  state = parallel.replicate({"w": np.ones(4, np.float32)})
  step = parallel.step(lambda s, b: ({"w": s["w"] + lax.pmean(b["x"].mean(), AXIS)}, {}),
                       donate_state=True)
  batch = parallel.shard({"x": np.ones(16, np.float32)})
  assert batch["x"].shape == (16,) and len(batch["x"].sharding.device_set) == 8
  new, _ = step(state, batch)  # An already placed batch passes through.
  assert state["w"].is_deleted() and not new["w"].is_deleted()
  np.testing.assert_allclose(new["w"], 2.0)


def test_bad_choices_are_named():
  with pytest.raises(ValueError, match=r"parallel must be one of \('mesh', 'pmap'\), got 'jit'"):
    DataParallel("jit")
  with pytest.raises(ValueError, match=r"local_devices must be in \[1, 8\]"):
    DataParallel("mesh", 9)
  step = DataParallel("mesh", 8).step(_positions_and_rows)
  with pytest.raises(ValueError, match=r"the global batch=12 must be a positive multiple of the number "
                                       r"of devices \(8 per process × 1 processes = 8\)"):
    step(jnp.float32(0), {"x": np.zeros(12, np.float32)})
