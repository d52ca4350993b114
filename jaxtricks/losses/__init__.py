"""Pure loss functions, one module per family; per-example values, no reduction (optax convention).

Every family's public functions are re-exported here: ``jaxtricks.losses.rpl_loss`` is
``jaxtricks.losses.open_set.rpl_loss``.
"""

from jaxtricks.losses.classification import (auxiliary_classifier_loss, class_balanced_loss,
                                             effective_number_weights, ldam_loss, logit_adjusted_logits,
                                             sigmoid_focal_terms, soft_target_loss, softmax_focal_loss,
                                             weighted_focal_loss)
from jaxtricks.losses.distillation import (distillation_cross_entropy, kd_loss, pairwise_distances,
                                           rkd_angle_loss, rkd_distance_loss, rkd_loss)
from jaxtricks.losses.infogan import discriminator_loss, generator_loss, mutual_information
from jaxtricks.losses.infomax import (dim_scores, donsker_varadhan_loss, fenchel_dual_loss, infonce_loss,
                                      prior_matching_losses)
from jaxtricks.losses.label_augmentation import (aggregated_logits, label_augment, single_logits,
                                                 sla_loss, sla_output_size, sla_predictions,
                                                 sla_self_distillation_loss, sla_task_loss)
from jaxtricks.losses.metric_learning import batch_hard_triplet_loss, squared_distances, valid_triplet_anchors
from jaxtricks.losses.open_set import (arpl_confusion_loss, arpl_logits, arpl_loss, arpl_open_set_score,
                                       open_set_logits, open_set_scores, reciprocal_distances,
                                       rpl_loss, rpl_open_set_score)
from jaxtricks.losses.pseudo_label import (alpha_ramp, confidence_mask, hard_pseudo_labels,
                                           noisy_student_loss, pseudo_label_loss, sharpen,
                                           smoothed_one_hot, soft_pseudo_labels)
