"""Multi-process training is a tested path: two processes × 4 CPU devices (collectives over gloo) train,
checkpoint, are killed, resume, and end where one process with all 8 devices ends, on the mesh and on
pmap; a checkpoint of two hosts resumes on one; the command line, run as two processes sharing one
workdir, saves asynchronously many times without a race."""

import collections
import json
import os
import shutil
import socket
import subprocess
import sys

import chex
import jax
import numpy as np
import pytest

from jaxtricks.training import fit
from jaxtricks.transfer import load_variables
from tests.conftest import REPO
from tests.training.multihost_worker import config

FOUR_DEVICES = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
                "JAX_PLATFORMS": "cpu"}


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def _two_processes(command) -> tuple[list[int], list[str]]:
  """Runs ``command(process_id, port)`` as two processes; their exit codes and outputs."""
  port = _free_port()
  procs = [subprocess.Popen(command(i, port), cwd=REPO, env=FOUR_DEVICES, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True) for i in range(2)]
  outputs = [p.communicate(timeout=300)[0] for p in procs]
  return [p.returncode for p in procs], outputs


def _workers(parallel, workdir, *extra):
  return _two_processes(lambda i, port: [sys.executable, "-m", "tests.training.multihost_worker",
                                         parallel, str(i), str(port), str(workdir), *extra])


def _records(workdir) -> list[dict]:
  return [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]


def _assert_same_run(workdir, reference_dir):
  final = json.loads((workdir / "final_metrics.json").read_text())
  reference = json.loads((reference_dir / "final_metrics.json").read_text())
  assert final["step"] == reference["step"]
  for key in ("eval/accuracy", "eval/auroc", "eval/oscr"):
    np.testing.assert_allclose(final[key], reference[key], rtol=1e-5, err_msg=key)
  chex.assert_trees_all_close(load_variables(workdir), load_variables(reference_dir), rtol=1e-5,
                              atol=1e-6)
  logged = lambda records: [(r["step"], r["train/loss"]) for r in records if "train/loss" in r]
  np.testing.assert_allclose(logged(_records(workdir)), logged(_records(reference_dir)), rtol=1e-5)


@pytest.mark.parametrize("parallel", ["mesh", "pmap"])
def test_two_processes_killed_and_resumed_match_one_process(tmp_path, parallel):
  assert jax.local_device_count() == 8
  fit(config(parallel), tmp_path / "one_process")

  codes, outputs = _workers(parallel, tmp_path / "two", "7")
  assert codes == [-9, -9], outputs
  steps = sorted(int(p.name) for p in (tmp_path / "two" / "checkpoints").iterdir() if p.name.isdigit())
  assert steps == [4]
  if parallel == "mesh":  # The two hosts' checkpoint also resumes on one host.
    shutil.copytree(tmp_path / "two", tmp_path / "two_then_one")
    fit(config(parallel), tmp_path / "two_then_one")
    _assert_same_run(tmp_path / "two_then_one", tmp_path / "one_process")
  codes, outputs = _workers(parallel, tmp_path / "two")
  assert codes == [0, 0], "\n".join(o[-3000:] for o in outputs)
  _assert_same_run(tmp_path / "two", tmp_path / "one_process")


def test_two_processes_on_an_image_folder_open_only_their_slices_and_match_one_process(tmp_path):
  from jaxtricks.data import ImageFolder, TrainBatches
  from jaxtricks.data.digit_folder import write_digit_folder
  from tests.data.streaming_worker import config as folder_config
  from tests.data.streaming_worker import record_batches

  folder = write_digit_folder(tmp_path / "data", per_class={"train": 8, "test": 2}, classes=3,
                              sizes=(24, 64))
  originals = record_batches(tmp_path / "one.jsonl")
  try:
    fit(folder_config(folder), tmp_path / "one")
  finally:
    TrainBatches.batch, ImageFolder.read = originals
  codes, outputs = _two_processes(lambda i, port: [
      sys.executable, "-m", "tests.data.streaming_worker", str(folder), str(tmp_path / "two"),
      str(tmp_path / f"host{i}.jsonl"), str(port), str(i)])
  assert codes == [0, 0], "\n".join(o[-3000:] for o in outputs)
  opened = lambda name: collections.Counter((tmp_path / f"{name}.jsonl.reads").read_text().split())  # noqa: E731
  hosts, one = [opened(f"host{i}") for i in range(2)], opened("one")
  first = sorted((folder / "train").glob("*/*"))[0]  # Each process reads one image to initialise.
  assert hosts[0] + hosts[1] == one + collections.Counter({str(first): 1})
  assert sum(hosts[0].values()) == sum(hosts[1].values())  # Each host: half of every batch.
  final = lambda d: json.loads((tmp_path / d / "final_metrics.json").read_text())  # noqa: E731
  assert final("two")["eval/accuracy"] == pytest.approx(final("one")["eval/accuracy"])
  chex.assert_trees_all_close(load_variables(tmp_path / "two"), load_variables(tmp_path / "one"),
                              rtol=1e-5, atol=1e-6)


def _cli_two_processes(workdir) -> list[str]:
  """The command line as two processes sharing ``workdir``: a checkpoint every 2 of its 16 steps,
  each save asynchronous, the next steps running while it is written. Returns the problems seen. The
  processes are given the coordinator, their number and their ids, not ``distributed.enabled``: those
  flags alone make them one run (else each would train alone, and the second be refused the workdir)."""
  codes, outputs = _two_processes(lambda i, port: [
      sys.executable, "-m", "jaxtricks.training", "--config=digits_lt_erm:smoke", f"--workdir={workdir}",
      "--config.progress=False", "--config.checkpoint_every_steps=2", "--config.keep_checkpoints=3",
      f"--config.distributed.coordinator_address=localhost:{port}",
      "--config.distributed.num_processes=2", f"--config.distributed.process_id={i}"])
  problems = [f"process {i} exited with {code}: {out[-2000:]}"
              for i, (code, out) in enumerate(zip(codes, outputs)) if code != 0]
  checkpoints = workdir / "checkpoints"
  final = json.loads((workdir / "final_metrics.json").read_text()) if not problems else {}
  saved = sorted(int(p.name) for p in checkpoints.iterdir() if p.name.isdigit()) if not problems else []
  leftovers = [p.name for p in checkpoints.iterdir() if "tmp" in p.name] if checkpoints.exists() else []
  if not problems and (saved != [final["step"] - 4, final["step"] - 2, final["step"]] or leftovers):
    problems.append(f"checkpoints {saved}, temporary directories {leftovers}, final step {final['step']}")
  return problems


def test_command_line_as_two_processes_saves_asynchronously_without_a_race(tmp_path):
  assert _cli_two_processes(tmp_path) == []


@pytest.mark.slow
def test_command_line_as_two_processes_ten_times(tmp_path):
  failures = [p for i in range(10) for p in _cli_two_processes(tmp_path / str(i))]
  assert not failures, f"{len(failures)} of 10 runs failed:\n" + "\n".join(failures)
