"""An `Infinite` whose worker processes hang while loading the pipeline; the test sends a signal meanwhile.

``python interrupted.py [sigterm-handler]``: with ``sigterm-handler``, SIGTERM raises ``SystemExit(143)`` (as
``train_model`` makes it do) instead of ending the process at once.
"""

import multiprocessing
import signal
import sys

from in_worker import ImportedInWorker

from dpipe_lightning.batch_iter import Infinite, sample


def exit_143(signum, frame):
    sys.exit(143)


if __name__ == '__main__':
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with SIGINT ignored (background)
    if sys.argv[1:] == ['sigterm-handler']:
        signal.signal(signal.SIGTERM, exit_143)
    source = sample(range(10), random_state=0)
    hanging = ImportedInWorker('sleeps_on_import')
    batch_iter = Infinite(source, hanging, batch_size=2, batches_per_epoch=1, n_workers=2, workers='process')
    try:
        with batch_iter:
            next(batch_iter())
    except KeyboardInterrupt:
        print(f'KeyboardInterrupt, worker processes left: {len(multiprocessing.active_children())}', flush=True)
