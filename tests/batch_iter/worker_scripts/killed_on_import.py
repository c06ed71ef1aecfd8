"""Imported by a worker process while it loads its pipeline: the process kills itself, like the OOM killer would."""

import os
import signal

os.kill(os.getpid(), signal.SIGKILL)
