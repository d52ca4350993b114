"""InfoGAN on the 8×8 digits (Chen et al., NeurIPS 2016): openai/InfoGAN's MNIST networks at 8×8,
62-d noise + Categorical(10) + 2 uniform codes, λ = ``:info_weight=`` (1, the reference's; 0 is the
plain GAN baseline), Adam β1 0.5 with LR 2e-4 (D and Q) and 1e-3 (G), batch 128, 200 epochs (1,800
updates; the reference makes 5,000). Reports how well the categorical code matches the digit
class: through Q on the test digits, and on generated samples classified by a small CNN trained once
(``WORKDIR/classifier``).

  python -m jaxtricks.training --config=digits_infogan --workdir=runs/infogan
"""


from jaxtricks.training.config import base_config, parse_arg, set_task, sibling_config


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seed=0, info_weight=1.0, epochs=200)
  c = set_task(base_config(), "infogan")
  c.seed = arg.seed
  c.dataset.update(source="digits", standardize=False)
  c.infogan.info_weight = arg.info_weight
  classifier = sibling_config(__file__, "digits_student", f"smoke={arg.smoke}")
  classifier.dataset.standardize = False
  classifier.progress = False
  c.infogan.classifier = classifier
  c.train.batch_size = 128
  c.train.num_epochs = arg.epochs
  c.eval_batch_size = 128
  c.eval_every_epochs = 50
  c.log_every_steps = 50
  c.checkpoint_every_steps = 1000
  if arg.smoke:
    c.infogan.width = 0.125
    c.infogan.eval_samples = 200
    c.train.num_epochs = 2
    c.eval_every_epochs = 1
    c.log_every_steps = 5
  return c
