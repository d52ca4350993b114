"""Self-supervised label augmentation on digits (Lee, Hwang, Shin, ICML 2020), and its baselines.

SmallCNN (width 16) on 8×8 digits, the 4 rotations; ``:mode=`` picks
``sla`` (joint N·M labels, evaluated by aggregated inference SLA+AG, SLA+SI also logged),
``sla_sd`` (plus a self-distilled N-way head: its single-pass prediction is the main metric),
``da`` (rotated copies keep their label), ``mt`` (class head + rotation head) or
``baseline`` (no transforms). SGD momentum 0.9, LR 0.1 per 64 examples, cosine, 30 epochs.

  python -m jaxtricks.training --config=digits_sla:mode=sla_sd,seed=1
"""

from jaxtricks.training.config import parse_arg, set_task, sibling_config

MODES = ("sla", "sla_sd", "da", "mt", "baseline")


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seed=0, mode="sla", transform="rotation")
  if arg.mode not in MODES:
    raise ValueError(f"mode must be one of {MODES}, got {arg.mode!r}")
  c = sibling_config(__file__, "digits_student", f"smoke={arg.smoke},seed={arg.seed}")
  c.model.cnn.width = 4 if arg.smoke else 16
  if arg.mode != "baseline":
    set_task(c, "sla")
    c.sla.mode = arg.mode
    c.sla.transform = arg.transform
  return c
