import pytest
import torch
from torch import nn

from dpipe_lightning.layers import (
    CenteredCrop,
    Lambda,
    PostActivation,
    PreActivation,
    SplitAdd,
    SplitCat,
    SplitReduce,
    make_blocks_with_splitters,
    make_consistent_seq,
)


class Recorder(nn.Module):
    """Appends its name to a shared log and adds ``offset``: shows the order in which layers run."""

    def __init__(self, log, name, offset=0.0):
        super().__init__()
        self.log, self.name, self.offset = log, name, offset

    def forward(self, x):
        self.log.append(self.name)
        return x + self.offset


def recorder(log, name):
    return lambda *args, **kwargs: Recorder(log, name)


def test_make_consistent_seq_chains_the_channels():
    sequence = make_consistent_seq(nn.Linear, [3, 5, 7, 2], bias=False)
    assert [(layer.in_features, layer.out_features) for layer in sequence] == [(3, 5), (5, 7), (7, 2)]
    assert all(layer.bias is None for layer in sequence)
    assert sequence(torch.zeros(4, 3)).shape == (4, 2)
    assert len(make_consistent_seq(nn.Linear, [3])) == 0


def test_pre_activation_order_and_batch_norm_width():
    log = []
    block = PreActivation(
        4, 6, layer_module=recorder(log, 'layer'), batch_norm_module=recorder(log, 'bn'),
        activation_module=recorder(log, 'activation'),
    )  # fmt: skip
    block(torch.zeros(1))
    assert log == ['bn', 'activation', 'layer']
    assert [name for name, _ in block.named_children()] == ['bn', 'activation', 'layer']

    block = PreActivation(4, 6, layer_module=nn.Conv1d, batch_norm_module=nn.BatchNorm1d, kernel_size=1)
    assert block.bn.num_features == 4 and block.layer.bias is not None
    assert block(torch.randn(2, 4, 5)).shape == (2, 6, 5)


def test_post_activation_order_and_batch_norm_width():
    log = []
    block = PostActivation(
        4, 6, layer_module=recorder(log, 'layer'), batch_norm_module=recorder(log, 'bn'),
        activation_module=recorder(log, 'activation'),
    )  # fmt: skip
    block(torch.zeros(1))
    assert log == ['layer', 'bn', 'activation']
    assert [name for name, _ in block.named_children()] == ['layer', 'activation', 'bn']

    block = PostActivation(4, 6, layer_module=nn.Conv1d, batch_norm_module=nn.BatchNorm1d, kernel_size=1, bias=False)
    assert block.bn.num_features == 6 and block.layer.bias is None
    assert (block(torch.randn(2, 4, 5)) >= 0).all()  # ReLU last


def test_pre_and_post_activation_without_batch_norm():
    x = torch.randn(3, 4)
    pre = PreActivation(4, 2, layer_module=nn.Linear)
    post = PostActivation(4, 2, layer_module=nn.Linear)
    assert isinstance(pre.bn, nn.Identity) and isinstance(post.bn, nn.Identity)
    torch.testing.assert_close(pre(x), pre.layer(torch.relu(x)))
    torch.testing.assert_close(post(x), torch.relu(post.layer(x)))


def test_activation_argument_checks():
    with pytest.raises(TypeError, match='layer_module must be a callable'):
        PreActivation(4, 2, layer_module='conv')
    with pytest.raises(TypeError, match='in_features must be an int'):
        PostActivation(4.0, 2, layer_module=nn.Linear)
    with pytest.raises(TypeError, match='batch_norm_module must be None or a callable'):
        PostActivation(4, 2, layer_module=nn.Linear, batch_norm_module=3)


def test_centered_crop():
    x = torch.arange(2 * 3 * 6 * 7).reshape(2, 3, 6, 7)
    assert torch.equal(CenteredCrop([1, 2])(x), x[:, :, 1:-1, 2:-2])
    assert torch.equal(CenteredCrop([0, 3])(x), x[:, :, :, 3:-3])  # 0: the axis is kept whole
    assert torch.equal(CenteredCrop([1, 2], [4, 6])(x), x[:, :, 1:4, 2:6])


def test_split_reduce_gets_the_paths_in_order():
    paths = [nn.Linear(3, 2), nn.Linear(3, 4)]
    x = torch.randn(5, 3)
    received = []
    SplitReduce(lambda outputs: received.extend(outputs), *paths)(x)
    assert [tuple(y.shape) for y in received] == [(5, 2), (5, 4)]
    torch.testing.assert_close(received[1], paths[1](x))
    assert len(list(SplitReduce(sum, *paths).parameters())) == 4  # the paths are registered


def test_split_cat_and_split_add():
    first, second = nn.Conv2d(3, 2, 1), nn.Conv2d(3, 2, 1)
    x = torch.randn(2, 3, 4, 4)
    torch.testing.assert_close(SplitCat(first, second)(x), torch.cat([first(x), second(x)], dim=1))
    torch.testing.assert_close(SplitAdd(first, second)(x), first(x) + second(x))
    torch.testing.assert_close(SplitAdd(first)(x), first(x))
    assert list(SplitAdd(first, second).state_dict()) == [
        'init_path.weight', 'init_path.bias', 'other_paths.0.weight', 'other_paths.0.bias'
    ]  # fmt: skip
    with pytest.raises(TypeError, match='at least one path'):
        SplitAdd()


def test_lambda_passes_its_keyword_arguments():
    layer = Lambda(torch.flatten, start_dim=1)
    assert layer(torch.zeros(2, 3, 4)).shape == (2, 12)
    assert Lambda(torch.add)(torch.ones(2), torch.ones(2), alpha=3).tolist() == [4.0, 4.0]
    with pytest.raises(TypeError, match='func must be callable'):
        Lambda(3)


def test_make_blocks_with_splitters_is_deprecated_and_nests():
    with pytest.warns(DeprecationWarning, match='make_blocks_with_splitters is deprecated'):
        model = make_blocks_with_splitters([1, 2, 3], lambda s: Lambda(torch.mul, other=float(len(str(s)))), nn.ReLU)
    # Sequential(block(1), splitter, Sequential(block(2), splitter, block([3])))
    assert isinstance(model[1], nn.ReLU) and isinstance(model[2][1], nn.ReLU)
    assert model[2][2].kwargs == {'other': 3.0}  # the last block gets the one-element structure itself: '[3]'
