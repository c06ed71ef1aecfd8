"""A script that uses worker processes without ``if __name__ == '__main__':``: each worker process runs it again.

The pipeline is large (1 MiB of images), larger than a pipe's buffer.
"""

import numpy as np

from dpipe_lightning.batch_iter import Infinite, load_by_random_id

images = np.zeros((256, 32, 32), np.float32)
source = load_by_random_id(images.__getitem__, ids=range(len(images)), random_state=0)
batch_iter = Infinite(source, batch_size=2, batches_per_epoch=1, workers='process')
print(next(batch_iter()).shape)
