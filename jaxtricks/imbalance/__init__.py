"""Imbalance methods that need more than a loss: M2m translation."""

from jaxtricks.imbalance.m2m import (M2mTranslation, accept, acceptance_table, cap_noise, draw_seeds,
                                     generation_probability, m2m_batch, random_start_noise, translate)
