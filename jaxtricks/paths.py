"""Paths of workdirs and data sets: local, or a URL (``gs://bucket/run``) through ``etils.epath``.

``pathlib.Path("gs://bucket/run")`` is the local folder ``gs:/bucket/run``: on a TPU pod every host
would write its own copy. Every path the library writes or reads goes through :func:`as_path`.
"""

from __future__ import annotations

import os
import pathlib

from etils import epath


def as_path(path: str | os.PathLike) -> epath.Path:
  """``path`` as an ``etils.epath.Path``: a local path, or a URL (``gs://``, ``s3://``) kept as one
  (``pathlib.Path("gs://b/run")`` would be the local folder ``gs:/b/run``)."""
  return epath.Path(path)


def absolute(path: str | os.PathLike) -> epath.Path:
  """:func:`as_path`, a local path made absolute (what orbax asks for); a URL as it is."""
  path = as_path(path)
  return path if is_url(path) else epath.Path(os.path.abspath(path))


def is_url(path: str | os.PathLike) -> bool:
  return "://" in os.fspath(path)


def local_path(path: str | os.PathLike, name: str) -> pathlib.Path:
  """``path`` (``~`` expanded) for code that needs a local or mounted file system (directory listings,
  ArrayRecord shards, file locks); a URL is a ``ValueError`` naming the argument ``name``."""
  if is_url(path):
    raise ValueError(f"{name}={os.fspath(path)!r}: this is read and written on a local or mounted file "
                     f"system (e.g. gcsfuse), not through a URL")
  return pathlib.Path(path).expanduser()
