"""The Relation Network: 25 objects from a 75×75 scene, g on every ordered pair with the question
(equal to g on concatenated pairs), the CNN+MLP baseline, coordinates."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxtricks.data.sort_of_clevr import cell_coordinates
from jaxtricks.models import RelationalQA
from jaxtricks.models.relational import SceneObjects


@pytest.fixture(scope="module")
def scene():
  images = jax.random.uniform(jax.random.key(0), (2, 75, 75, 3))
  questions = jax.nn.one_hot(jnp.array([[0, 7, 9], [3, 6, 8]]), 11)  # [B=2, Q=3, 11]
  return images, questions


def test_cnn_gives_25_objects_of_24_features(scene):
  model = SceneObjects()
  variables = model.init(jax.random.key(0), scene[0], train=False)
  assert model.apply(variables, scene[0], train=False).shape == (2, 25, 24)


def test_pair_function_equals_g_on_concatenated_pairs(scene):
  images, questions = scene
  model = RelationalQA(kind="rn", g_units=8)
  variables = model.init(jax.random.key(1), images, questions, train=False)
  p = variables["params"]
  objects = SceneObjects().apply({"params": p["SceneObjects_0"],
                                  "batch_stats": variables["batch_stats"]["SceneObjects_0"]},
                                 images, train=False)
  objects = jnp.concatenate([objects, jnp.broadcast_to(cell_coordinates("cell"), (2, 25, 2))], -1)
  # The reference's pairs: [o_j, o_i, q] for every (i, j), the question with one element of the pair.
  kernel = jnp.concatenate([p["g_object_j"]["kernel"], p["g_object_i"]["kernel"],
                            p["g_question"]["kernel"]])
  o_j = jnp.broadcast_to(objects[:, None, None, :, :], (2, 3, 25, 25, 26))
  o_i = jnp.broadcast_to(objects[:, None, :, None, :], (2, 3, 25, 25, 26))
  q = jnp.broadcast_to(questions[:, :, None, None, :], (2, 3, 25, 25, 11))
  h = jax.nn.relu(jnp.concatenate([o_j, o_i, q], -1) @ kernel + p["g_question"]["bias"])
  for name in ("Dense_0", "Dense_1", "Dense_2"):
    h = jax.nn.relu(h @ p[name]["kernel"] + p[name]["bias"])
  h = jax.nn.relu(h.sum((2, 3)) @ p["f"]["kernel"] + p["f"]["bias"])
  h = jax.nn.relu(h @ p["Dense_3"]["kernel"] + p["Dense_3"]["bias"])
  expected = h @ p["Dense_4"]["kernel"] + p["Dense_4"]["bias"]
  np.testing.assert_allclose(model.apply(variables, images, questions, train=False)[0], expected,
                             rtol=1e-4, atol=1e-4)


def test_each_question_gets_its_own_answer_and_coordinates_matter(scene):
  images, questions = scene
  model = RelationalQA(kind="rn", g_units=8)
  variables = model.init(jax.random.key(1), images, questions, train=False)
  logits, aux = model.apply(variables, images, questions, train=False)
  assert logits.shape == (2, 3, 10) and aux == {}
  assert not np.allclose(logits[:, 0], logits[:, 1])
  py3 = RelationalQA(kind="rn", g_units=8, coordinates="py3").apply(variables, images, questions,
                                                                     train=False)[0]
  assert not np.allclose(logits, py3)


def test_cnn_mlp_baseline_and_dropout_at_test_time(scene):
  images, questions = scene
  model = RelationalQA(kind="cnn_mlp")
  variables = model.init(jax.random.key(2), images, questions, train=False)
  assert variables["params"]["Dense_0"]["kernel"].shape == (600 + 11, 256)
  logits, _ = model.apply(variables, images, questions, train=False)
  assert logits.shape == (2, 3, 10)
  noisy = RelationalQA(kind="cnn_mlp", test_dropout=True)
  a, b = (noisy.apply(variables, images, questions, train=False, rngs={"dropout": jax.random.key(k)})[0]
          for k in (0, 1))
  assert not np.allclose(a, b)  # The reference's F.dropout: active at test time too.
  with pytest.raises(ValueError, match="model.kind must be one of"):
    RelationalQA(kind="mlp").init(jax.random.key(0), images, questions, train=False)
