"""The recipes: one file per recipe, each with ``get_config(arg) -> ml_collections.ConfigDict``.

Installed with the library as ``jaxtricks.configs``, so ``--config=NAME[:ARG]`` finds them from any
directory; ``python -m jaxtricks.training --list`` prints them.
"""
