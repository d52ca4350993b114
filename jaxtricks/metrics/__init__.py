"""Pure metrics."""

from jaxtricks.metrics.classification import (balanced_accuracy, best_map_accuracy, per_class_counts,
                                              per_class_recall)
from jaxtricks.metrics.retrieval import recall_at_k
