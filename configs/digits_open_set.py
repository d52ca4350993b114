"""Open-set recognition on digits (the MNIST protocol in small): train on 6 known digits, test
closed-set accuracy on them and AUROC / AUPR / OSCR of known vs the 4 unknown digits.

``:loss=`` ``softmax`` (max-softmax baseline), ``rpl`` (reciprocal points, Chen et al., ECCV 2020)
or ``arpl`` (adversarial reciprocal points without the generator, TPAMI 2021); ``:split=0..4``
picks the random known/unknown split. SmallCNN (width 16; 32-d features for RPL/ARPL), SGD momentum
0.9, LR 0.1 per 64 examples on the network and the points, cosine, 30 epochs; RPL/ARPL official
defaults: temperature 1, open-space weight 0.1, one point per class.

  python -m jaxtricks.training --config=digits_open_set:loss=arpl,split=2
"""

from jaxtricks.losses.open_set import OPEN_SET_LOSSES
from jaxtricks.metrics.open_set import known_unknown_split
from jaxtricks.training.config import parse_arg, set_task, sibling_config


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seed=0, loss="rpl", split=0)
  if arg.loss not in OPEN_SET_LOSSES:
    raise ValueError(f"loss must be one of {OPEN_SET_LOSSES}, got {arg.loss!r}")
  c = sibling_config(__file__, "digits_student", f"smoke={arg.smoke},seed={arg.seed}")
  known, unknown = known_unknown_split(10, 6, seed=arg.split)
  set_task(c, "open_set")
  c.dataset.train_classes = tuple(int(k) for k in known)
  c.dataset.test_classes = tuple(int(k) for k in known) + tuple(int(u) for u in unknown)
  c.model.cnn.width = 4 if arg.smoke else 16
  c.model.embedding_dim = 32
  c.open_set.loss = arg.loss
  return c
