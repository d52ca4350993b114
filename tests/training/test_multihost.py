"""Multi-process training is a tested path: two processes × 4 CPU devices (collectives over gloo) train,
checkpoint, are killed, resume, and end where one process with all 8 devices ends."""

import json
import socket
import subprocess
import sys

import chex
import jax
import numpy as np

from jaxtricks.training import fit
from jaxtricks.transfer import load_variables
from tests.conftest import REPO
from tests.training.multihost_worker import config


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def _two_processes(workdir, *extra) -> list[int]:
  port = _free_port()
  procs = [subprocess.Popen([sys.executable, "-m", "tests.training.multihost_worker", str(i), str(port),
                             str(workdir), *extra], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True) for i in range(2)]
  outputs = [p.communicate(timeout=300)[0] for p in procs]
  return [p.returncode for p in procs], outputs


def _records(workdir) -> list[dict]:
  return [json.loads(l) for l in (workdir / "metrics.jsonl").read_text().splitlines()]


def test_two_processes_killed_and_resumed_match_one_process(tmp_path):
  assert jax.local_device_count() == 8
  reference, _ = fit(config(), tmp_path / "one_process")

  codes, outputs = _two_processes(tmp_path / "two", "7")
  assert codes == [-9, -9], outputs
  steps = sorted(int(p.name) for p in (tmp_path / "two" / "checkpoints").iterdir() if p.name.isdigit())
  assert steps == [4]
  codes, outputs = _two_processes(tmp_path / "two")
  assert codes == [0, 0], "\n".join(o[-3000:] for o in outputs)

  final = json.loads((tmp_path / "two" / "final_metrics.json").read_text())
  assert final["step"] == reference["step"]
  for key in ("eval/accuracy", "eval/auroc", "eval/oscr"):
    np.testing.assert_allclose(final[key], reference[key], rtol=1e-5, err_msg=key)
  ours, theirs = load_variables(tmp_path / "two"), load_variables(tmp_path / "one_process")
  chex.assert_trees_all_close(ours, theirs, rtol=1e-5, atol=1e-6)
  logged = lambda records: [(r["step"], r["train/loss"]) for r in records if "train/loss" in r]
  np.testing.assert_allclose(logged(_records(tmp_path / "two")), logged(_records(tmp_path / "one_process")),
                             rtol=1e-5)
