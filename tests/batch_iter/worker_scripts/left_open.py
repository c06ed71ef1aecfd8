"""Ends while an `Infinite` with running worker processes is neither closed nor left (no `with`)."""

import multiprocessing
import signal

from dpipe_lightning.batch_iter import Infinite, sample

if __name__ == '__main__':
    signal.signal(signal.SIGINT, signal.default_int_handler)
    source = sample(range(10), random_state=0)
    batch_iter = Infinite(source, batch_size=2, batches_per_epoch=5, n_workers=2, workers='process', combiner=list)
    next(batch_iter())
    print('workers', *(process.pid for process in multiprocessing.active_children()), flush=True)
