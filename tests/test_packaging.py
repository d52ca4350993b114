"""setup.cfg installs every package and the recipes (``.ci/run`` also runs a recipe from a wheel)."""

import configparser

from jaxtricks.training.config import recipes, recipes_dir
from tests.conftest import REPO


def test_setup_cfg_lists_every_package_and_installs_the_recipes_as_jaxtricks_configs():
  setup = configparser.ConfigParser()
  setup.read(REPO / "setup.cfg")
  listed = set(setup["options"]["packages"].split())
  found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "jaxtricks").rglob("__init__.py")}
  assert listed == found | {"jaxtricks.configs"}
  assert setup["options"]["package_dir"].split() == ["jaxtricks.configs", "=", "configs"]
  assert recipes_dir().resolve() == (REPO / "configs").resolve()
  assert set(recipes()) == {p.stem for p in (REPO / "configs").glob("[!_]*.py")}


def test_the_license_that_setup_cfg_names_ships_with_the_package():
  setup = configparser.ConfigParser()
  setup.read(REPO / "setup.cfg")
  assert setup["metadata"]["license"] == "Apache-2.0"
  assert setup["metadata"]["license_files"].split() == ["LICENSE"]
  text = (REPO / "LICENSE").read_text()
  assert "Apache License" in text and "Version 2.0, January 2004" in text
