"""Consumes an `Infinite` until a signal arrives; the test sends it to the whole process group.

``python signalled.py group <thread|process>``: 2 workers load items slowly (0.2 s each: the consumer mostly
waits). SIGTERM's handler records the signal and calls ``interrupt_waits()``; the consumer stops at the step
boundary or when its wait raises ``WaitInterrupted``. Then, before closing: are the worker processes alive, is the
position that of the last batch received, is the stream exact? Prints that as one JSON line, closes the iterator,
exits with 143.

``python signalled.py hang <thread|process> <path>``: the loader hangs forever on the first item (it creates
``path`` then). SIGTERM's handler calls ``interrupt_waits()``: the script prints how long the wait took to end and
exits with 143. SIGINT raises KeyboardInterrupt (set explicitly: a background job inherits SIGINT ignored), which
ends the script.

Prints ``ready`` once its handlers are set (``hang``: once the loader hangs, with the worker processes' pids).
"""

import json
import multiprocessing
import signal
import sys
import time
from pathlib import Path

from hangs import HangingLoader, slow_identity

from dpipe_lightning.batch_iter import Infinite, WaitInterrupted, interrupt_waits, load_by_random_id

BATCH_SIZE = 2
signals = []


def on_sigterm(signum, frame):
    signals.append(signum)
    interrupt_waits()


def consume_until_signalled(workers):
    source = load_by_random_id(slow_identity, ids=range(1000), random_state=0)
    batch_iter = Infinite(
        source, batch_size=BATCH_SIZE, batches_per_epoch=10**6, n_workers=2, workers=workers, combiner=list
    )
    received, ending = [], None
    print('ready', flush=True)
    with batch_iter:
        try:
            for batch in batch_iter():
                received.append(batch)
                time.sleep(0.002)  # a training step
                if signals:  # the step boundary
                    ending = 'step boundary'
                    break
        except WaitInterrupted:
            ending = 'wait interrupted'
        time.sleep(0.2)  # a worker process killed by the signal would have exited by now
        alive = [process.exitcode is None for process in multiprocessing.active_children()]
        state = batch_iter.state_dict()
    reference = load_by_random_id(lambda i: i, ids=range(1000), random_state=0)
    expected = [[reference.get(k * BATCH_SIZE + i) for i in range(BATCH_SIZE)] for k in range(len(received))]
    summary = {
        'ending': ending,
        'workers_alive_before_close': alive,
        'workers_left_after_close': len(multiprocessing.active_children()),
        'received': len(received),
        'exact': received == expected,
        'state': state,
    }
    print(json.dumps(summary), flush=True)
    sys.exit(143)


def hang(workers, started):
    started = Path(started)
    source = load_by_random_id(HangingLoader(hang_id=0, started=started), ids=[0], random_state=0)
    batch_iter = Infinite(source, batch_size=1, batches_per_epoch=1, workers=workers, combiner=list)
    with batch_iter:
        epoch = batch_iter()
        while not started.exists():  # the loader hangs from now on
            time.sleep(0.01)
        print('ready', *(p.pid for p in multiprocessing.active_children()), flush=True)
        start = time.monotonic()
        try:
            next(epoch)
        except WaitInterrupted:
            print(f'WaitInterrupted after {time.monotonic() - start:.2f} s', flush=True)
    sys.exit(143)


if __name__ == '__main__':
    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    mode, workers, *rest = sys.argv[1:]
    if mode == 'group':
        consume_until_signalled(workers)
    else:
        hang(workers, *rest)
