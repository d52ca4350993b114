"""The workdir contract: a run's directory records its config, refuses a run of another config before
anything is written, and is held by one run at a time.

``WORKDIR/config.json`` is written when a run starts; a later run in the same workdir resumes it only
if its config is the same, apart from :data:`RESUMABLE_KEYS` (how often to log, evaluate and save, how
to parallelise, which split the evaluation reports, robust evaluation, the best checkpoint kept, W&B
logging): options that change neither the trained parameters nor the meaning of the record. Anything
else (another recipe, a wider model, more epochs: the cosine curve would jump mid-run) is refused with
the first differing key and its two values. Paths go through ``etils.epath``, so a workdir may be a URL (``gs://bucket/run``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from typing import Any, Iterator

import ml_collections
from flax import traverse_util

from jaxtricks.paths import as_path, is_url

RESUMABLE_KEYS = ("progress", "log_every_steps", "eval_every_epochs", "eval_batch_size",
                  "checkpoint_every_steps", "keep_checkpoints", "keep_best", "wandb", "parallel",
                  "distributed", "dataset.workers", "dataset.threads", "dataset.evaluate_on", "eval_pgd")
LOCK = ".lock"  # Held by the process that trains in the workdir (process 0 of a distributed run).


def _resumable(key: str) -> bool:
  """Whether ``key`` may change on resume: a key of :data:`RESUMABLE_KEYS` or inside one of those blocks,
  also within another run's config (``distill.teacher.progress``)."""
  return any(f".{r}." in f".{key}." for r in RESUMABLE_KEYS)


def config_difference(saved: dict, config: ml_collections.ConfigDict) -> tuple[str, Any, Any] | None:
  """The first key (in the saved config's order) whose value differs between the ``saved`` config
  (``config.json`` read back) and ``config``, outside :data:`RESUMABLE_KEYS`: ``(key, saved, new)``."""
  flat = lambda tree: traverse_util.flatten_dict(tree, keep_empty_nodes=True, sep=".")  # noqa: E731
  before, after = flat(saved), flat(json.loads(config.to_json_best_effort()))
  for key in list(before) + [k for k in after if k not in before]:
    missing = object()
    old, new = before.get(key, missing), after.get(key, missing)
    if old != new and not _resumable(key):
      show = lambda v: "(absent)" if v is missing else json.dumps(v)  # noqa: E731
      return key, show(old), show(new)
  return None


def check_workdir(config: ml_collections.ConfigDict, workdir: str | os.PathLike) -> None:
  """A ``ValueError`` when ``workdir`` holds a run of another config (see the module docstring); reads
  only, so a refused run leaves the workdir as it was."""
  saved = as_path(workdir) / "config.json"
  if not saved.exists():
    return
  difference = config_difference(json.loads(saved.read_text()), config)
  if difference:
    key, old, new = difference
    raise ValueError(f"workdir {str(workdir)!r} holds a run with {key}={old}, this config has {key}={new}: "
                     f"use a new --workdir (resuming a run needs its config; keys that may change: "
                     f"{', '.join(RESUMABLE_KEYS)})")


@contextlib.contextmanager
def hold(workdir: str | os.PathLike, *, enabled: bool = True) -> Iterator[None]:
  """Holds ``WORKDIR/.lock`` while a run trains there: a second process (not part of the same
  distributed run: only process 0 takes it) is refused with the holder's host, pid and start time. The
  lock is an OS file lock, released when its process ends however it ends, so a dead run's lock is
  taken over; a run that ends removes it. Workdirs behind a URL have no file locks: nothing is held
  there."""
  path = as_path(workdir) / LOCK
  if not enabled or is_url(path):
    yield
    return
  fd = _acquire(os.fspath(path), workdir)
  try:
    os.ftruncate(fd, 0)
    holder = f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}"
    os.pwrite(fd, holder.encode(), 0)
    yield
  finally:
    os.unlink(path)  # Still held: a process that opened this file before finds it gone, and retries.
    os.close(fd)


def _acquire(path: str, workdir) -> int:
  while True:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
      os.close(fd)
      raise ValueError(f"workdir {str(workdir)!r} is in use by {holder} (its {LOCK}); two runs cannot "
                       f"share a workdir: wait for that run, or use another --workdir") from None
    try:
      if os.fstat(fd).st_ino == os.stat(path).st_ino:
        return fd
    except FileNotFoundError:
      pass
    os.close(fd)  # Locked a file that its last holder removed meanwhile: take the new one.
