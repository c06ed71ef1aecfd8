"""A run's distributed process group is destroyed when the interpreter exits (and not before)."""

import subprocess
import sys
import textwrap

import pytest
import torch

SCRIPT = textwrap.dedent("""
    import atexit

    import numpy as np
    import torch
    import torch.distributed as dist
    from torch import nn

    from dpipe_lightning.batch_iter import Infinite, load_by_random_id
    from dpipe_lightning.torch import TorchModel, train_model

    # registered before train_model runs, so it runs after the handlers train_model registers
    atexit.register(lambda: print('initialized at exit:', dist.is_initialized(), flush=True))
    torch.manual_seed(0)
    xs, ys = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32), np.arange(20) % 2
    model = TorchModel(nn.Linear(4, 2), nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.SGD)
    batch_iter = Infinite(load_by_random_id(xs.__getitem__, ys.__getitem__, ids=range(20)), batch_size=5,
                          batches_per_epoch=2)
    train_model(model, batch_iter, n_epochs=1, lr=0.1, accelerator='cpu', devices=1, strategy='ddp',
                enable_progress_bar=False)
    print('initialized after training:', dist.is_initialized(), flush=True)
""")


@pytest.mark.timeout(120)
@pytest.mark.skipif(not torch.distributed.is_available(), reason='torch.distributed is not available')
def test_the_group_of_a_ddp_run_serves_the_code_after_it_and_is_destroyed_at_exit(tmp_path):
    # a gloo group left to the interpreter's finalization can abort the process on exit (pytorch#190489)
    done = subprocess.run([sys.executable, '-c', SCRIPT], cwd=tmp_path, capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == ['initialized after training: True', 'initialized at exit: False']
