"""Deep InfoMax (Hjelm et al., ICLR 2019): local DIM between the encoder's local feature map and its
global code, with the JSD, InfoNCE or DV estimator, plus adversarial prior matching of the code. No
labels are used; the test metric is the estimator's loss on held-out batches."""

from __future__ import annotations

import dataclasses
import functools

import jax
import ml_collections
from jax import lax

from jaxtricks.losses.infomax import (donsker_varadhan_loss, fenchel_dual_loss, infonce_loss,
                                      prior_matching_losses)
from jaxtricks.models.layers import aux_output
from jaxtricks.parallel import AXIS, gather_batch
from jaxtricks.tasks.base import (CLASSIFICATION_TARGETS, Batch, Data, Prediction, SingleNet, StepKeys,
                                  TrainState, build_net, reject_options, train_batches)
from jaxtricks.tasks.evaluation import EvalOut, EvalSpec

GENERATIONS = None
STREAMED_IMAGES = False

ESTIMATORS = {"jsd": functools.partial(fenchel_dual_loss, measure="JSD"), "nce": infonce_loss,
              "dv": donsker_varadhan_loss}


def config_blocks() -> dict[str, ml_collections.ConfigDict]:
  c = ml_collections.ConfigDict()  # The model returns local_mi, global_mi, prior_scores (model.dim).
  c.estimator = "jsd"  # jsd | nce | dv
  c.prior_weight = 0.1  # Prior matching of sigmoid(code) to U(0, 1); 0 turns it off.
  return {"infomax": c}


def infomax_loss(aux, *, estimator: str, prior_weight: float = 0.0) -> jax.Array:
  """Local DIM over the global batch: the MI estimator between the local and global MI-network
  outputs of :class:`~jaxtricks.models.DeepInfoMax` (every other example of the batch, gathered over
  devices, is a negative), plus ``prior_weight`` × prior matching (GAN measure): the discriminator's
  loss, and, with the model's ``nonsaturating`` objective, the encoder's ``mean softplus(−D(code))``
  through the frozen discriminator (with ``minimax`` the encoder descends the reversed discriminator
  loss instead)."""
  needed_by = "task='infomax'"
  local, global_ = (gather_batch(aux_output(aux, k, needed_by=needed_by), AXIS)
                    for k in ("local_mi", "global_mi"))
  loss = ESTIMATORS[estimator](local, global_)
  if prior_weight:
    scores = aux_output(aux, "prior_scores", needed_by=f"infomax.prior_weight={prior_weight}")
    scores = {k: gather_batch(v, AXIS) for k, v in scores.items()}
    loss += prior_weight * prior_matching_losses(scores["prior"], scores["encoded"])["discriminator"]
    if "generator" in scores:
      loss += prior_weight * prior_matching_losses(scores["prior"], scores["generator"])["encoder"]
  return loss


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class InfoMax(SingleNet):
  estimator: str = "jsd"
  prior_weight: float = 0.0

  def loss(self, params, state: TrainState, batch: Batch, keys: StepKeys):
    _, stats, aux = self.apply(params, state, batch["image"], keys)
    loss = infomax_loss(aux, estimator=self.estimator, prior_weight=self.prior_weight)
    return loss, (stats, {"task_loss": loss})

  def eval_step(self, state: TrainState, batch: Batch) -> EvalOut:
    """The estimator's loss on the global test batch (inference mode, no prior term); every device
    holds it, so each contributes ``1/devices`` of it to the sums."""
    _, aux = self.model.apply(state.variables, batch["image"], train=False)
    share = 1.0 / lax.axis_size(AXIS)
    loss = infomax_loss(aux, estimator=self.estimator)
    return EvalOut({"loss_sum": share * loss, "batches": share}, {})

  def finalize(self, sums, rows) -> dict[str, float]:
    return {"eval/infomax_loss": float(sums["loss_sum"] / sums["batches"])}

  def eval_specs(self) -> list[EvalSpec]:
    return [EvalSpec(self.eval_step, self.finalize, full_batches_only=True)]


def output_size(config: ml_collections.ConfigDict, num_classes: int) -> int:
  return config.model.embedding_dim  # The global code.


def prediction(config: ml_collections.ConfigDict, num_classes: int) -> Prediction:
  return Prediction(f"the encoder's global code [N, {config.model.embedding_dim}] (features for a probe)")


def from_config(config: ml_collections.ConfigDict, data: Data, runs) -> InfoMax:
  c = config.infomax
  if c.estimator not in ESTIMATORS:
    raise ValueError(f"infomax.estimator must be one of {sorted(ESTIMATORS)}, got {c.estimator!r}")
  reject_options(config, "infomax", CLASSIFICATION_TARGETS)
  net = build_net(config, runs, train_batches(config, data.train),
                  output_size=output_size(config, data.train.num_classes))
  return InfoMax(net=net, estimator=c.estimator, prior_weight=c.prior_weight)
