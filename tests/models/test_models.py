import re
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from jaxtricks.models import (MLP, MODELS, ChannelPReLU, ResNet, SmallCNN, create_model, he_normal,
                              model_config, prior_bias_init)


def _init(model, shape=(2, 32, 32, 3)):
  return jax.jit(lambda x: model.init(jax.random.key(0), x, train=False))(jnp.zeros(shape))


def _count(tree):
  return sum(x.size for x in jax.tree.leaves(tree))


def _shapes(model, shape=(2, 32, 32, 3)):
  return jax.eval_shape(lambda x: model.init(jax.random.key(0), x, train=False), jnp.zeros(shape))


def test_resnet20_and_32_have_the_papers_parameter_counts():
  # He et al. 2016, Table 6: ResNet-20 0.27M, ResNet-32 0.46M (with projection shortcuts: a bit more).
  assert _count(_shapes(ResNet(depth=20))["params"]) == pytest.approx(0.27e6, rel=0.03)
  assert _count(_shapes(ResNet(depth=32))["params"]) == pytest.approx(0.46e6, rel=0.03)


def test_imagenet_layout_has_torchvisions_parameter_counts():
  # torchvision.models.resnet18 / resnet50 with 1000 classes: 11,689,512 and 25,557,032 parameters.
  for depth, count in ((18, 11_689_512), (50, 25_557_032)):
    model = ResNet(depth=depth, num_classes=1000, width=64, layout="imagenet")
    assert _count(_shapes(model, (1, 224, 224, 3))["params"]) == count
  (_, aux), _ = jax.eval_shape(lambda x: ResNet(depth=50, width=64, layout="imagenet").init_with_output(
      jax.random.key(0), x, train=False), jnp.zeros((1, 224, 224, 3)))
  assert aux["embedding"].shape == (1, 2048)
  with pytest.raises(ValueError, match=r"ImageNet ResNet must be one of \[18, 34, 50, 101, 152\]"):
    _shapes(ResNet(depth=20, layout="imagenet"))


def test_variants_change_stem_and_shortcut():
  params = {v: _shapes(ResNet(depth=8, width=8, variant=v))["params"] for v in ("v1", "b", "c", "d")}
  stem_convs = lambda p: sum(1 for k in p if k.startswith("Conv_"))
  assert stem_convs(params["v1"]) == stem_convs(params["b"]) == 1
  assert stem_convs(params["c"]) == stem_convs(params["d"]) == 3
  # ResNet-D replaces the strided 1×1 projection by avg-pool + stride-1 1×1: same parameters, other op.
  x = jax.random.normal(jax.random.key(1), (2, 16, 16, 3))
  variables = _init(ResNet(depth=8, width=8, variant="c"), x.shape)
  apply = lambda v: jax.jit(lambda x: ResNet(depth=8, width=8, variant=v).apply(variables, x, train=False)[0])
  assert not np.allclose(apply("c")(x), apply("d")(x))


def test_bottleneck_b_moves_the_stride_to_the_3x3_conv():
  def strided_kernels(variant):
    model = ResNet(depth=11, width=8, block="bottleneck", variant=variant)
    x = jnp.zeros((1, 16, 16, 3))
    _, state = model.apply(_init(model, x.shape), x, train=False,
                           capture_intermediates=True, mutable=["intermediates"])
    shapes = {}
    for path, value in flax.traverse_util.flatten_dict(state["intermediates"]).items():
      if "_Block_1" in path and path[-2].startswith("Conv_"):  # First block of stage 2 (stride 2).
        shapes[path[-2]] = value[0].shape[1]
    return shapes
  assert strided_kernels("v1")["Conv_0"] == 8  # Stride on the first 1×1 conv.
  assert strided_kernels("b")["Conv_0"] == 16 and strided_kernels("b")["Conv_1"] == 8


def test_zero_gamma_zeroes_the_last_bn_of_every_residual_branch():
  params = _init(ResNet(depth=14, width=8, zero_gamma=True))["params"]
  blocks = [k for k in params if k.startswith("_Block_")]
  assert len(blocks) == 6
  for name in blocks:
    bns = sorted(k for k in params[name] if k.startswith("BatchNorm_"))
    np.testing.assert_array_equal(params[name]["BatchNorm_1"]["scale"], 0.0)
    np.testing.assert_array_equal(params[name]["BatchNorm_0"]["scale"], 1.0)
    if len(bns) == 3:  # Projection-shortcut BN keeps γ = 1.
      np.testing.assert_array_equal(params[name]["BatchNorm_2"]["scale"], 1.0)


def test_depth_must_be_6n_plus_2():
  with pytest.raises(ValueError, match=r"model.depth for basic blocks must be 6n\+2"):
    _init(ResNet(depth=21))
  with pytest.raises(ValueError, match="model.variant must be one of"):
    _init(ResNet(depth=8, variant="e"))


def test_channel_prelu_has_one_slope_per_channel_initialised_to_quarter():
  layer = ChannelPReLU()
  x = jnp.array([[-2.0, -1.0, 0.5]])
  variables = layer.init(jax.random.key(0), x)
  np.testing.assert_array_equal(variables["params"]["negative_slope"], [0.25] * 3)
  np.testing.assert_allclose(layer.apply(variables, x), [[-0.5, -0.25, 0.5]])
  params = _init(ResNet(depth=8, width=8, activation="prelu"))["params"]
  assert any(k.startswith("ChannelPReLU") for k in params)


@pytest.mark.parametrize("slope", [0.0, 0.25])
def test_he_init_variance(slope):
  w = he_normal(slope)(jax.random.key(0), (3, 3, 256, 512))
  np.testing.assert_allclose(np.var(w), 2.0 / ((1 + slope ** 2) * 9 * 256), rtol=0.02)


def test_small_models_on_8x8_and_dropout_is_stochastic_in_training():
  x = jnp.ones((4, 8, 8, 1))
  for model in (SmallCNN(dropout_rate=0.5), MLP(dropout_rate=0.5)):
    variables = _init(model, x.shape)
    logits, aux = model.apply(variables, x, train=False)
    assert logits.shape == (4, 10) and aux["embedding"].shape[0] == 4
    run = lambda seed: model.apply(variables, x, train=True, rngs={"dropout": jax.random.key(seed)},
                                   mutable=["batch_stats"])[0][0]
    assert not np.allclose(run(0), run(1))


def test_pool_dropout_drops_the_pooled_map_in_mc_dropout_and_nothing_else():
  """Gal et al.'s placement: with the head's dropout off, MC-dropout passes still differ, because the
  map after the pooling layer is dropped; inference without dropout is unchanged."""
  x = jax.random.normal(jax.random.key(1), (4, 8, 8, 1))
  plain, pooled = SmallCNN(width=4), SmallCNN(width=4, pool_dropout_rate=0.25)
  variables = _init(plain, x.shape)
  assert jax.tree.structure(variables) == jax.tree.structure(_init(pooled, x.shape))
  mc = lambda model, seed: model.apply(variables, x, train=False, dropout=True,
                                       rngs={"dropout": jax.random.key(seed)})[0]
  np.testing.assert_array_equal(mc(plain, 0), mc(plain, 1))
  assert not np.allclose(mc(pooled, 0), mc(pooled, 1))
  np.testing.assert_array_equal(pooled.apply(variables, x, train=False)[0],
                                plain.apply(variables, x, train=False)[0])


def test_create_model_rejects_unknown_names():
  with pytest.raises(ValueError, match=re.escape(f"model.name must be one of {sorted(MODELS)} or "
                                                 "'package.module:Class', got 'vit'")):
    create_model(ml_collections.ConfigDict({"name": "vit"}), num_classes=10, dtype=jnp.float32)
  config = model_config()
  config.name = "mlp"
  assert create_model(config, num_classes=10, dtype=jnp.float32).width == 256  # MLP's own default.
  with pytest.raises(AttributeError, match="variant"):  # A locked config names the bad key.
    config.lock().mlp.variant = "d"


def test_bfloat16_compute_keeps_float32_params():
  model = ResNet(depth=8, width=8, dtype=jnp.bfloat16)
  variables = _init(model)
  assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(variables["params"]))
  assert model.apply(variables, jnp.ones((2, 32, 32, 3)), train=False)[0].dtype == jnp.float32


def test_prior_bias_init():
  bias = prior_bias_init(10)(jax.random.key(0), (10,))
  np.testing.assert_allclose(jax.nn.sigmoid(bias), 0.1, rtol=1e-6)


def test_stochastic_depth_drops_whole_branches_per_example_at_the_linear_rate():
  """Block i of L drops its branch with probability rate·i/L in training (scaling the kept ones by
  1/survival) and never at inference."""
  from jaxtricks.models.resnet import _Block

  norm = lambda **kw: flax.linen.BatchNorm(use_running_average=True, **kw)  # noqa: E731
  block = _Block(4, 1, False, "v1", False, "relu", norm, jnp.float32, drop_rate=0.5)
  x = jax.random.normal(jax.random.key(0), (400, 4, 4, 4))
  variables = block.init(jax.random.key(1), x)
  out = np.asarray(block.apply(variables, x, train=True, rngs={"dropout": jax.random.key(2)}))
  full = np.asarray(block.apply(variables, x, train=False))  # relu(x + y)
  dropped = np.asarray(jax.nn.relu(x))  # the identity shortcut alone
  y = np.asarray(block.clone(drop_rate=0.0).apply(variables, x, train=True))
  np.testing.assert_allclose(y, full, atol=1e-6)  # rate 0: the plain block
  is_dropped = np.all(np.isclose(out, dropped, atol=1e-6), axis=(1, 2, 3))
  assert not np.any(np.all(np.isclose(full, dropped, atol=1e-6), axis=(1, 2, 3)))
  assert 0.4 < is_dropped.mean() < 0.6
  # A kept branch is scaled by 1/survival = 2: relu(x + 2y), not relu(x + y).
  assert not np.any(np.all(np.isclose(out, full, atol=1e-6), axis=(1, 2, 3)) & ~is_dropped)
  net = ResNet(depth=14, num_classes=3, stochastic_depth=0.5, dropout_rate=0.5)
  images = jax.random.normal(jax.random.key(3), (8, 8, 8, 1))
  v = net.init(jax.random.key(4), images, train=False)
  a, _ = net.apply(v, images, train=False)
  plain = net.clone(stochastic_depth=0.0, dropout_rate=0.0)
  np.testing.assert_array_equal(a, plain.apply(v, images, train=False)[0])
  train = lambda key: net.apply(v, images, train=True, rngs={"dropout": key}, mutable=["batch_stats"])[0][0]  # noqa: E731
  assert not np.allclose(train(jax.random.key(5)), train(jax.random.key(6)))
  with pytest.raises(ValueError, match="stochastic_depth"):
    net.clone(stochastic_depth=1.0).init(jax.random.key(0), images, train=False)


class _OwnLogitsOnly(nn.Module):
  num_classes: int
  width: int = 4

  @nn.compact
  def __call__(self, x, *, train):
    return nn.Dense(self.num_classes)(nn.Dense(self.width)(x.reshape(len(x), -1)))


class _OwnWithAux(nn.Module):
  num_classes: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, *, train):
    h = nn.Dense(3, dtype=self.dtype)(x.reshape(len(x), -1))
    return nn.Dense(self.num_classes, dtype=self.dtype)(h), {"embedding": h}


class _OwnNoTrain(nn.Module):
  num_classes: int

  def __call__(self, x):
    return x


class _OwnNoClasses(nn.Module):
  def __call__(self, x, *, train):
    return x


def test_a_model_of_your_own_is_named_by_import_path_and_checked():
  """``model.name = "package.module:Class"``, its options in ``model.options``; logits alone become
  ``(logits, {})``, a pair is kept; the run's dtype reaches a model that has the field; a class
  without num_classes or train= is one error naming what is missing."""
  config = model_config()
  config.name = f"{__name__}:_OwnLogitsOnly"
  config.options = {"width": 7}
  model = create_model(config, num_classes=5, dtype=jnp.bfloat16)
  x = jnp.ones((2, 4, 4, 1))
  variables = model.init(jax.random.key(0), x, train=False)
  out, aux = model.apply(variables, x, train=True)
  assert out.shape == (2, 5) and aux == {} and model.module.width == 7
  config.name, config.options = f"{__name__}:_OwnWithAux", {}
  model = create_model(config, num_classes=5, dtype=jnp.bfloat16)
  out, aux = model.apply(model.init(jax.random.key(0), x, train=False), x, train=False)
  assert out.dtype == jnp.bfloat16 and aux["embedding"].shape == (2, 3)
  for name, match in (("_OwnNoTrain", "train= argument"), ("_OwnNoClasses", "num_classes field"),
                      ("_Missing", "cannot import '_Missing'"), ("jnp", "not a flax.linen.Module")):
    config.name = f"{__name__}:{name}"
    with pytest.raises(ValueError, match=match):
      create_model(config, num_classes=5, dtype=jnp.float32)
