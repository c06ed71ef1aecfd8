"""Imported by a worker process while it loads its pipeline: says so (with its pid), then hangs for a minute."""

import os
import time

# one write(2): the two workers share the test's pipe, and print's separate writes of the text and the newline
# could interleave into one line
os.write(1, f'sleeping in worker {os.getpid()}\n'.encode())
time.sleep(60)
