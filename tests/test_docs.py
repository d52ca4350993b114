"""Every relative link of the README and the docs pages points at a file of the repository."""

import ast
import importlib.util
import re
import sys
from pathlib import Path

import pytest

from jaxtricks.experiments.common import SCRIPT_FLAGS
from tests.conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page):
  links = re.findall(r"\]\(([^)\s]+)\)", page.read_text())
  local = [link.split("#")[0] for link in links if not re.match(r"[a-z]+://", link) and link[0] != "#"]
  missing = [link for link in local if not (page.parent / link).exists()]
  assert not missing, f"{page.name} links to missing files: {missing}"


MISSPELT_ON_PURPOSE = {"optim.lrr"}  # README: the error a misspelt key gives.


def _dotted_keys(config, prefix=""):
  """Every key of a nested ConfigDict, dotted: ``model``, ``model.resnet``, ``model.resnet.depth``."""
  for k, v in config.items():
    yield prefix + k
    if hasattr(v, "items"):
      yield from _dotted_keys(v, f"{prefix}{k}.")


def _all_config_keys() -> set[str]:
  """Every dotted key of every task's config (the shared blocks and each family's own), and of the
  active-learning config."""
  from jaxtricks.tasks import TASKS
  from jaxtricks.training import base_config, load_config, set_task

  configs = [set_task(base_config(), task) for task in TASKS] + [load_config("active_digits")]
  return {key for c in configs for key in _dotted_keys(c)}


def _resolves(dotted: str) -> bool:
  """``jaxtricks.a.b.c``: the longest importable module prefix, then attributes."""
  parts = dotted.split(".")
  for cut in range(len(parts), 0, -1):
    try:
      obj = importlib.import_module(".".join(parts[:cut]))
    except ImportError:
      continue
    try:
      for name in parts[cut:]:
        obj = getattr(obj, name)
    except AttributeError:
      return False
    return True
  return False


def _code_names(text: str) -> set[str]:
  """What a page names in code: backticked dotted tokens, ``jaxtricks.…`` paths anywhere, the names
  its ``from jaxtricks.x import a, b`` lines import, and ``--config.KEY`` flags."""
  names = set(re.findall(r"`([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(?![\w*(])", text))
  names |= set(re.findall(r"(?<![\w/])(jaxtricks(?:\.[A-Za-z_]\w*)+)(?![\w*])", text))
  imports = re.findall(r"from (jaxtricks[\w.]*) import \(([^)]*)\)", text)
  imports += re.findall(r"^\s*from (jaxtricks[\w.]*) import ([\w, ]+)$", text, re.MULTILINE)
  for module, imported in imports:
    names |= {f"{module}.{n.strip()}" for n in imported.split(",") if n.strip()}
  names |= {"config." + k for k in re.findall(r"--config\.([\w.]+)", text)}
  return names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_module_function_and_config_key_a_page_names_exists(page):
  """A dotted name in code on a page (``jaxtricks.metrics.open_set_auroc``, ``metrics.recall_at_k``,
  ``model.resnet.depth``, ``--config.dataset.path``) must be a module, attribute or config key."""
  keys = _all_config_keys()
  sections = {k for k in keys if "." not in k}
  packages = {p.stem for p in (REPO / "jaxtricks").iterdir()
              if p.suffix == ".py" or (p / "__init__.py").exists()}
  missing = []
  for name in sorted(_code_names(page.read_text())):
    name = name.removeprefix("config.").removeprefix("c.")
    head = name.split(".")[0]
    if name in MISSPELT_ON_PURPOSE or re.search(r"\.(py|jsonl?|md|png|txt|ipynb)$", name):
      continue
    if head == "jaxtricks":
      ok = _resolves(name)
    elif head in sections or head in packages:
      ok = name in keys or (head in packages and _resolves(f"jaxtricks.{name}"))
    else:
      continue  # Another library's name (optax.…, jax.…) or a file name.
    if not ok:
      missing.append(name)
  assert not missing, f"{page.name} names what does not exist: {missing}"


def test_your_own_code_page_runs_top_to_bottom(tmp_path, monkeypatch):
  """docs/your_own_code.md's Python blocks, in order, in one namespace (each block asserts what it
  shows: the losses train a network in your own linen and NNX steps, fit takes your arrays, your
  model and your image folder, a model without train= is refused with a clear error, and a trained run
  loaded in a new process predicts what it reported, its export too, in a process without jaxtricks)."""
  blocks = re.findall(r"```python\n(.*?)```", (REPO / "docs" / "your_own_code.md").read_text(), re.S)
  assert len(blocks) == 10
  monkeypatch.chdir(tmp_path)
  monkeypatch.setattr(sys, "path", list(sys.path))
  namespace = {"__name__": "your_own_code"}
  for i, block in enumerate(blocks):
    exec(compile(block, f"docs/your_own_code.md, python block {i + 1}", "exec"), namespace)  # noqa: S102


# A command: the module, then its flags (a value may be quoted: --rows="a b,c").
COMMAND = re.compile(r'python -m (jaxtricks(?:\.\w+)+)'
                     r'((?:[ \t]+(?:\\\n[ \t]*)?--[\w.]+(?:=(?:"[^"]*"|[^\s`|\\]*))?)*)')
ABSL = {"help", "helpfull", "helpshort", "verbosity", "v"}


def _script_flags(module: str) -> set[str]:
  """The flags ``python -m MODULE`` defines, read from its source: ``flags.DEFINE_*("name", ...)``
  and, for an experiment, ``run_script``'s own and the ``Option`` keywords of its call."""
  source = Path(importlib.util.find_spec(module).origin)
  if source.name == "__init__.py":
    source = source.with_name("__main__.py")
  tree = ast.parse(source.read_text())
  names = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
      if node.func.attr.startswith("DEFINE") and node.args and isinstance(node.args[0], ast.Constant):
        names.add(node.args[0].value)
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "run_script":
      names |= set(SCRIPT_FLAGS) | {k.arg for k in node.keywords}
  return names


def _check_config_flags(spec: str, overrides: list[str]) -> list[str]:
  """Problems with ``--config=SPEC`` (a recipe and its argument) and its ``--config.KEY`` overrides."""
  from jaxtricks.training import load_config
  name, _, arg = spec.partition(":")
  try:
    config = load_config(name, arg or None)
  except ValueError as e:
    return [f"--config={spec}: {e}"]
  keys = set(_dotted_keys(config))
  return [f"--config={spec} has no key {key}" for key in overrides if key not in keys]


@pytest.mark.parametrize("page", [*PAGES, *sorted((REPO / "configs").glob("*.py"))], ids=lambda p: p.name)
def test_every_command_a_page_gives_uses_flags_and_recipes_that_exist(page):
  """``python -m jaxtricks.…`` commands: each flag is one the module defines; a recipe named by
  ``--config=NAME:ARG`` loads with that argument and has every ``--config.KEY`` it sets. Placeholders
  (``--config=NAME``, ``DIR``) are skipped."""
  problems = []
  for module, flag_text in COMMAND.findall(page.read_text()):
    flags = re.findall(r'--([\w.]+)(?:=("[^"]*"|[^\s`|\\]*))?', flag_text)
    known = _script_flags(module) | ABSL
    problems += [f"{module} has no flag --{name}" for name, _ in flags
                 if name.split(".")[0] not in known]
    if "config" in known and module in ("jaxtricks.training", "jaxtricks.active"):
      specs = [value for name, value in flags if name == "config"]
      if page.parent.name == "configs":  # A recipe's own commands must run from an installed package.
        problems += [f"--config={spec} is a path (it fails outside a checkout): name the recipe"
                     for spec in specs if "/" in spec or spec.split(":")[0].endswith(".py")]
      spec = specs[0] if specs else ("default" if module == "jaxtricks.training" else "active_digits")
      if re.fullmatch(r"[a-z0-9_]+(:[a-z0-9_=.,\-]*)?", spec):  # Not a placeholder (NAME, split=S).
        problems += _check_config_flags(spec, [n.removeprefix("config.") for n, _ in flags
                                               if n.startswith("config.")])
  assert not problems, f"{page.name}: {problems}"
