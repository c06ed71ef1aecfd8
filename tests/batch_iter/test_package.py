import subprocess
import sys

import dpipe_lightning.batch_iter as batch_iter


def test_public_api():
    expected = {
        'BatchIter', 'Infinite', 'sample', 'load_by_random_id', 'combine_batches', 'combine_to_arrays',
        'combine_pad', 'pad_batch_equal', 'unpack_args', 'multiply', 'zip_apply', 'apply_at', 'random_apply',
        'sample_args',
    }  # fmt: skip
    assert expected <= set(batch_iter.__all__)
    assert all(hasattr(batch_iter, name) for name in batch_iter.__all__)


def test_does_not_import_torch_or_lightning():
    code = (
        'import sys, dpipe_lightning.batch_iter, dpipe_lightning._data.utils; '
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'lightning')))"
    )
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == '[]'


def test_batch_iter_is_abstract():
    class Epochs(batch_iter.BatchIter):
        def __call__(self):
            return [1, 2]

    with Epochs() as epochs:
        assert epochs() == [1, 2]
    epochs.close()
