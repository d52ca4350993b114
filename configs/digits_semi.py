"""Few labels on digits: the training split with ``:labelled=`` of every class labelled (0.05 or 0.1;
the rest unlabelled), trained ``:method=supervised`` (labelled only), ``pseudo_label`` (Lee, 2013) or
``noisy_student`` (Xie et al., CVPR 2020; ``:generations=3`` trains three students, each the next
teacher, after the supervised teacher in ``WORKDIR/teacher``).

``digits_student``'s recipe on [0, 1] pixels with SmallCNN width 16 and dropout 0.5, RandAugment
(``:randaugment=`` layers, torchvision policy, bin 9; 0 for the plain 1-pixel-crop recipe) on
labelled and unlabelled batches alike, labelled batch 32 with 3× as many unlabelled examples per step,
LR 0.05, 1 warm-up epoch, cosine over 30 epochs of 39 steps. Pseudo-labelling ramps α to 3 from epoch 5
to 20; Noisy Student uses soft targets (T = 1), label smoothing 0.1 and the official class balancing.

  python -m jaxtricks.training --config=digits_semi:method=noisy_student,labelled=0.05,generations=3
"""

from jaxtricks.tasks.semi_supervised import METHODS
from jaxtricks.training.config import parse_arg, set_task, sibling_config


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seed=0, method="noisy_student", labelled=0.1, generations=1,
                  randaugment=2)
  if arg.method not in METHODS:
    raise ValueError(f"method must be one of {METHODS}, got {arg.method!r}")
  c = sibling_config(__file__, "digits_student", f"smoke={arg.smoke},seed={arg.seed}")
  set_task(c, "semi_supervised")
  c.dataset.standardize = False  # RandAugment works on [0, 1] pixels.
  c.augment.randaugment_ops = arg.randaugment
  c.model.cnn.update(width=4 if arg.smoke else 16, dropout_rate=0.5)
  c.optim.update(lr=0.05, reference_batch=32, warmup_epochs=0 if arg.smoke else 1)
  c.train.batch_size = 32

  s = c.semi
  s.method = arg.method
  s.labelled_fraction = arg.labelled
  s.unlabel_ratio = 3
  s.alpha, s.alpha_t1, s.alpha_t2 = (3.0, 0.0, 1.0) if arg.smoke else (3.0, 5.0, 20.0)
  if arg.method == "noisy_student":
    s.teacher = get_config(f"smoke={arg.smoke},seed={arg.seed},method=supervised,labelled={arg.labelled},"
                           f"randaugment={arg.randaugment}")
    s.generations = min(arg.generations, 2) if arg.smoke else arg.generations
  if arg.smoke:
    s.balance_min_threshold = 0.0  # An untrained teacher is confident about nothing.
  return c
