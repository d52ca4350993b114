"""One process of a two-process run on this machine, 4 CPU devices each (tests/training/test_multihost.py).

  python -m tests.training.multihost_worker PARALLEL PROCESS_ID PORT WORKDIR [KILL_AT_STEP]

With ``KILL_AT_STEP`` the process kills itself (SIGKILL) when that step's batch is requested, once
the asynchronous checkpoint of step 4 is complete, so that the kill always finds one.
"""

import os
import signal
import sys
import time
from pathlib import Path

from jaxtricks.data import TrainBatches
from jaxtricks.training import fit
from jaxtricks.training.config import load_config
from tests.conftest import REPO


def config(parallel: str):
  """Open set (ARPL): the evaluator gathers every host's logits for AUROC."""
  c = load_config(REPO / "configs" / "digits_open_set.py", "smoke,loss=arpl")
  c.update(parallel=parallel, progress=False, checkpoint_every_steps=4, log_every_steps=2)
  return c


def main(parallel: str, process_id: int, port: int, workdir: str, kill_at: int | None):
  c = config(parallel)
  c.distributed.update(enabled=True, coordinator_address=f"localhost:{port}", num_processes=2,
                       process_id=process_id)
  if kill_at is not None:
    batch = TrainBatches.batch

    def killed_at(self, step):
      if step == kill_at:
        deadline = time.monotonic() + 120
        while not (Path(workdir) / "checkpoints" / "4").is_dir() and time.monotonic() < deadline:
          time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGKILL)
      return batch(self, step)
    TrainBatches.batch = killed_at
  fit(c, workdir)


if __name__ == "__main__":
  os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"  # Before JAX starts its backend.
  main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4],
       int(sys.argv[5]) if len(sys.argv) > 5 else None)
