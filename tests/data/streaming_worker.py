"""A streamed run on an image folder that records the examples of every batch it takes (and every
file it opens, in ``RECORD_FILE.reads``) and, with ``KILL_AT_STEP``, kills itself (SIGKILL) when that
step's batch is requested, once the checkpoint of the step before is complete; or, with ``PORT``
``PROCESS_ID``, runs as one of two processes × 4 CPU devices (tests/data/test_streaming.py,
tests/training/test_multihost.py).

  python -m tests.data.streaming_worker FOLDER WORKDIR RECORD_FILE [KILL_AT_STEP | PORT PROCESS_ID]
"""

import json
import os
import signal
import sys
import time
from pathlib import Path

from jaxtricks.data import ImageFolder, TrainBatches
from jaxtricks.training import fit


def config(folder):
  from tests.data.test_streaming import _small_run
  c = _small_run(folder)
  c.checkpoint_every_steps = 2
  c.dataset.threads = 0  # Batches taken when asked for: the kill and the records follow the steps.
  return c


def record_batches(record_file, kill_at=None, workdir=None):
  """Patches TrainBatches.batch to append ``[step, example indices]`` to ``record_file`` and
  ImageFolder.read to append the file's path to ``record_file.reads``; returns what it replaced."""
  batch, read = TrainBatches.batch, ImageFolder.read

  def opened(self, index):
    with open(f"{record_file}.reads", "a") as f:
      f.write(self.paths[index] + "\n")
    return read(self, index)
  ImageFolder.read = opened

  def recorded(self, step):
    if step == kill_at:
      deadline = time.monotonic() + 120
      while not (Path(workdir) / "checkpoints" / str(step)).is_dir() and time.monotonic() < deadline:
        time.sleep(0.1)
      os.kill(os.getpid(), signal.SIGKILL)
    with open(record_file, "a") as f:
      f.write(json.dumps([step, self.indices(step).tolist()]) + "\n")
    return batch(self, step)
  TrainBatches.batch = recorded
  return batch, read


if __name__ == "__main__":
  folder, workdir, record, *rest = sys.argv[1:]
  c = config(folder)
  if len(rest) == 2:
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"  # Before JAX starts.
    c.distributed.update(enabled=True, coordinator_address=f"localhost:{rest[0]}", num_processes=2,
                         process_id=int(rest[1]))
  record_batches(record, int(rest[0]) if len(rest) == 1 else None, workdir)
  fit(c, workdir)
