"""Training: the fit loop, configs, prerequisite runs and generations, plots, the CLI."""

from jaxtricks.training.config import base_config, load_config, parse_arg, set_task
from jaxtricks.training.trainer import fit
