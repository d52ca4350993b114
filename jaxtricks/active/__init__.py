"""Active learning: query strategies (uncertainty, BALD, Core-Set, BADGE, ALFA-Mix), the loop, and
the pairwise comparison of strategies."""

from jaxtricks.active.alfamix import alfamix_candidates, alfamix_select, class_anchors, nearest_to_centres
from jaxtricks.active.badge import badge, gradient_embedding
from jaxtricks.active.coreset import kcenter_greedy, min_squared_distances
from jaxtricks.active.evaluation import penalty_matrix
from jaxtricks.active.uncertainty import (bald, entropy, least_confidence, margin, mc_dropout_logits,
                                          random_selection, select_top)
