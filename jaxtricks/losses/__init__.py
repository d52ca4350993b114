"""Pure loss functions, one module per family; per-example values, no reduction (optax convention)."""

from jaxtricks.losses.classification import (auxiliary_classifier_loss, class_balanced_loss,
                                             effective_number_weights, ldam_loss, logit_adjusted_logits,
                                             sigmoid_focal_terms, soft_target_loss, softmax_focal_loss,
                                             weighted_focal_loss)
from jaxtricks.losses.distillation import (distillation_cross_entropy, kd_loss, pairwise_distances,
                                           rkd_angle_loss, rkd_distance_loss, rkd_loss)
from jaxtricks.losses.metric_learning import batch_hard_triplet_loss, squared_distances, valid_triplet_anchors
