"""``jaxtricks.losses`` re-exports every public function of every loss family."""

import importlib
import inspect
import pkgutil

import jaxtricks.losses


def test_every_loss_family_is_reexported():
  families = [m.name for m in pkgutil.iter_modules(jaxtricks.losses.__path__)]
  assert len(families) == 8
  for family in families:
    module = importlib.import_module(f"jaxtricks.losses.{family}")
    public = [name for name, obj in vars(module).items() if not name.startswith("_")
              and inspect.isfunction(obj) and obj.__module__ == module.__name__]
    missing = [name for name in public if getattr(jaxtricks.losses, name, None) is not getattr(module, name)]
    assert public and not missing, f"jaxtricks.losses lacks {family}'s {missing}"
