"""A run killed (SIGKILL) while its step-10 checkpoint is being written (tests/training/test_fit.py).

  python -m tests.training.killed_save_worker WORKDIR

The commit of that checkpoint (orbax's rename of its temporary directory) is held back, so the kill
always lands during the asynchronous save.
"""

import asyncio
import os
import signal
import sys

from orbax.checkpoint._src.path import atomicity

from jaxtricks.training import fit
from jaxtricks.training.checkpoints import Checkpoints
from tests.training.test_fit import _small_config, small_digits


def main(workdir: str):
  finalize = atomicity.AtomicRenameTemporaryPath.finalize

  async def held_back(self):
    if "10" in str(self._final_path).rsplit("/", 1)[-1]:
      await asyncio.sleep(600)
    return await finalize(self)
  atomicity.AtomicRenameTemporaryPath.finalize = held_back

  save = Checkpoints.save

  def save_then_kill(self, step, state):
    save(self, step, state)
    if step == 10:
      os.kill(os.getpid(), signal.SIGKILL)
  Checkpoints.save = save_then_kill
  fit(_small_config(), workdir, datasets=small_digits())


if __name__ == "__main__":
  main(sys.argv[1])
