"""Imported by a worker process while it loads its pipeline: says so (with its pid), then hangs for a minute."""

import os
import time

print(f'sleeping in worker {os.getpid()}', flush=True)
time.sleep(60)
