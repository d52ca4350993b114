"""Imbalance methods that need more than a loss: M2m translation."""

from jaxtricks.imbalance.m2m import (accept, acceptance_table, generation_probability,
                                     random_start_noise, translate)
