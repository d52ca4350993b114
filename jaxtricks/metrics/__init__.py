"""Pure metrics: classification, retrieval (Recall@K) and open-set recognition."""

from jaxtricks.metrics.classification import (balanced_accuracy, best_map_accuracy, per_class_counts,
                                              per_class_recall)
from jaxtricks.metrics.open_set import (known_unknown_split, open_set_aupr, open_set_auroc,
                                        official_ood_metrics, oscr)
from jaxtricks.metrics.retrieval import recall_at_k
