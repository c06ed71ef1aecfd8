"""Every public name of deep_pipe 0.0.7's training modules is importable from the same path under dpipe_lightning.

The lists are deep_pipe 0.0.7's public module attributes (what its star imports exported). ``dpipe.train``,
``dpipe.train.base``, ``dpipe.train.logging`` and ``dpipe.torch.train`` are covered where they are implemented.
"""

import importlib

import pytest

DEEP_PIPE_0_0_7 = {
    'dpipe.batch_iter': [
        'BatchIter',
        'Infinite',
        'combine_batches',
        'combine_pad',
        'combine_to_arrays',
        'load_by_random_id',
        'sample',
    ],
    'dpipe.batch_iter.pipeline': [
        'BatchIter',
        'Infinite',
        'combine_batches',
        'combine_pad',
        'combine_to_arrays',
        'pad_batch_equal',
    ],
    'dpipe.batch_iter.sources': ['load_by_random_id', 'pam', 'sample', 'squeeze_first'],
    'dpipe.batch_iter.base': ['BatchIter'],
    'dpipe.batch_iter.utils': [
        'apply_at',
        'lmap',
        'multiply',
        'pad_batch_equal',
        'pad_to_shape',
        'random_apply',
        'sample_args',
        'squeeze_first',
        'unpack_args',
        'zip_apply',
    ],
    'dpipe.train.policy': [
        'ABCAttributesMeta',
        'AbstractAttribute',
        'Constant',
        'DecreasingOnPlateau',
        'EarlyStopping',
        'Exponential',
        'LambdaEpoch',
        'LossStop',
        'NEpochs',
        'Policy',
        'Schedule',
        'ValuePolicy',
    ],
    'dpipe.train.checkpoint': ['CheckpointManager', 'load_pickle', 'load_torch', 'save_pickle', 'save_torch'],
    'dpipe.train.validator': ['compute_metrics', 'evaluate', 'evaluate_predict'],
    'dpipe.torch': [
        'Model',
        'TorchModel',
        'do_inf_step',
        'do_train_step',
        'is_on_cuda',
        'load_model_state',
        'save_model_state',
        'sequence_to_np',
        'sequence_to_var',
        'set_lr',
        'to_cuda',
        'to_np',
        'to_var',
        'train_model',
    ],
    'dpipe.torch.model': [
        'Model',
        'TorchModel',
        'do_inf_step',
        'do_train_step',
        'is_on_cuda',
        'load_model_state',
        'save_model_state',
        'sequence_to_np',
        'sequence_to_var',
        'set_lr',
        'to_cuda',
        'to_np',
        'to_var',
    ],
    'dpipe.torch.utils': [
        'is_on_cuda',
        'load_model_state',
        'save_model_state',
        'sequence_to_np',
        'sequence_to_var',
        'set_lr',
        'to_cuda',
        'to_np',
        'to_var',
    ],
    'dpipe.torch.functional': [
        'dice_loss_with_logits',
        'focal_loss_with_logits',
        'linear_focal_loss_with_logits',
        'weighted_cross_entropy_with_logits',
    ],
    'dpipe.layers': [
        'CenteredCrop',
        'FPN',
        'InterpolateToInput',
        'Lambda',
        'PostActivation',
        'PostActivation1d',
        'PostActivation2d',
        'PostActivation3d',
        'PostActivationND',
        'PreActivation',
        'PreActivation1d',
        'PreActivation2d',
        'PreActivation3d',
        'PreActivationND',
        'PyramidPooling',
        'ResBlock',
        'ResBlock1d',
        'ResBlock2d',
        'ResBlock3d',
        'Reshape',
        'SplitAdd',
        'SplitCat',
        'SplitReduce',
        'build_slices',
        'check_axes',
        'crop_to_shape',
        'expand_axes',
        'identity',
        'lmap',
        'make_blocks_with_splitters',
        'make_consistent_seq',
        'pam',
        'partial',
        'zip_equal',
    ],
    'dpipe.layers.shape': ['InterpolateToInput', 'PyramidPooling', 'Reshape', 'check_axes', 'expand_axes'],
    'dpipe.layers.structure': [
        'CenteredCrop',
        'Lambda',
        'PostActivation',
        'PreActivation',
        'SplitAdd',
        'SplitCat',
        'SplitReduce',
        'build_slices',
        'identity',
        'make_blocks_with_splitters',
        'make_consistent_seq',
        'pam',
    ],
    'dpipe.layers.conv': [
        'PostActivation',
        'PostActivation1d',
        'PostActivation2d',
        'PostActivation3d',
        'PostActivationND',
        'PreActivation',
        'PreActivation1d',
        'PreActivation2d',
        'PreActivation3d',
        'PreActivationND',
        'partial',
    ],
    'dpipe.layers.resblock': [
        'PreActivationND',
        'ResBlock',
        'ResBlock1d',
        'ResBlock2d',
        'ResBlock3d',
        'crop_to_shape',
        'identity',
        'partial',
    ],
    'dpipe.layers.fpn': ['FPN', 'identity', 'lmap', 'make_consistent_seq', 'zip_equal'],
}


def ported(module: str) -> str:
    return 'dpipe_lightning' + module.removeprefix('dpipe')


@pytest.mark.parametrize(('module', 'names'), DEEP_PIPE_0_0_7.items())
def test_every_name_is_importable(module, names):
    imported = importlib.import_module(ported(module))
    missing = [name for name in names if not hasattr(imported, name)]
    assert missing == []


@pytest.mark.parametrize(('module', 'names'), DEEP_PIPE_0_0_7.items())
def test_star_import_brings_every_name(module, names):
    namespace = {}
    exec(f'from {ported(module)} import *', namespace)
    assert set(names) <= set(namespace)
