"""``train_model`` enters the batch iterator: when training fails or is interrupted, all its workers stop."""

import pytest

from dpipe_lightning.batch_iter import Infinite, PipelineError, load_by_random_id
from dpipe_lightning.torch import TorchModel, train_model

WORKERS = [('thread', 2), ('process', 2)]


def make_batch_iter(blobs, workers, n_workers, ids):
    source = load_by_random_id(blobs.xs.__getitem__, blobs.ys.__getitem__, ids=ids, random_state=0)
    return Infinite(source, batch_size=4, batches_per_epoch=3, n_workers=n_workers, workers=workers)


@pytest.mark.parametrize(('workers', 'n_workers'), WORKERS)
def test_a_loading_error_stops_training_and_the_workers(blobs, make_model, workers, n_workers, child_processes):
    ids = [*blobs.ids, len(blobs.ids)]  # the last id is out of range: its loader raises IndexError
    with pytest.raises(PipelineError, match=rf'loader #1 .* failed on id {len(blobs.ids)}') as caught:
        train_model(make_model(), make_batch_iter(blobs, workers, n_workers, ids), n_epochs=1000, lr=1e-3)
    assert isinstance(caught.value.__cause__, IndexError)
    assert child_processes() == []


class InterruptedInEpochTwo(TorchModel):
    def do_train_step(self, *inputs, lr):
        if self.current_epoch == 2:
            raise KeyboardInterrupt
        return super().do_train_step(*inputs, lr=lr)


@pytest.mark.parametrize(('workers', 'n_workers'), WORKERS)
def test_ctrl_c_during_training_stops_the_workers(blobs, make_model, workers, n_workers, child_processes):
    model = make_model(InterruptedInEpochTwo)
    batch_iter = make_batch_iter(blobs, workers, n_workers, blobs.ids)
    with pytest.raises(KeyboardInterrupt):
        train_model(model, batch_iter, n_epochs=5, lr=1e-3)
    assert not batch_iter.running and child_processes() == []
    # the same iterator trains again, continuing its stream
    train_model(make_model(), batch_iter, n_epochs=1, lr=1e-3)
    # epochs 0, 1, the batch of epoch 2 whose step was interrupted, then one more epoch
    assert batch_iter.state_dict()['batches_consumed'] == 2 * 3 + 1 + 3
