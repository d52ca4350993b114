"""Reproduction runs: several configs × seeds, a results table and a plot
(``python -m jaxtricks.experiments.NAME --help``); the shared parts are in ``common``."""
