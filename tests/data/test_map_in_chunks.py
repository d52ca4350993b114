"""One way to run a finished network over a whole array: fixed-size chunks, one compilation, the same
rows whatever the chunk size (teacher labels, an active-learning pool, non-robust data sets)."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxtricks.active.loop import pool_outputs
from jaxtricks.data import map_in_chunks
from jaxtricks.models import SmallCNN


def test_rows_do_not_depend_on_the_chunk_size_and_padding_is_dropped():
  x = np.arange(23 * 3, dtype=np.float32).reshape(23, 3)
  fn = lambda c: {"sum": c["x"].sum(-1), "twice": 2 * c["x"], "index": c["i"]}  # noqa: E731
  inputs = {"x": x, "i": np.arange(23)}
  for size in (1, 5, 23, 1024):
    out = map_in_chunks(fn, inputs, chunk_size=size)
    np.testing.assert_array_equal(out["sum"], x.sum(-1))
    np.testing.assert_array_equal(out["twice"], 2 * x)
    np.testing.assert_array_equal(out["index"], np.arange(23))


def test_pool_outputs_mc_dropout_masks_are_keyed_by_the_pool_index():
  model = SmallCNN(width=4, dropout_rate=0.5)
  images = np.asarray(jax.random.uniform(jax.random.key(0), (13, 8, 8, 1)))
  variables = model.init(jax.random.key(1), jnp.asarray(images[:1]), train=False)
  a, b = (pool_outputs(model, variables, images, jax.random.key(2), mc_passes=3, chunk_size=size)
          for size in (4, 64))
  for key in ("logits", "embeddings", "mc_logits"):
    np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-6, err_msg=key)
  assert a["mc_logits"].shape == (3, 13, 10)
  assert not np.allclose(a["mc_logits"][0], a["mc_logits"][1])  # The passes differ.
