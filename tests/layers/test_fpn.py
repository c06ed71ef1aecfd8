from functools import partial

import pytest
import torch
from torch import nn

from dpipe_lightning.layers import FPN, ResBlock2d

UPSAMPLE = partial(nn.Upsample, scale_factor=2, mode='nearest')
DOWNSAMPLE = partial(nn.MaxPool2d, kernel_size=2)
STRUCTURE = [
    [[3, 8], [8, 8]],
    [[8, 16], [16, 8]],
    [16, 32, 16],
]


def conv(n_in, n_out):
    return nn.Conv2d(n_in, n_out, kernel_size=3, padding=1)


def test_last_level_gives_the_top_result():
    net = FPN(conv, DOWNSAMPLE, UPSAMPLE, torch.add, STRUCTURE)
    assert net(torch.randn(2, 3, 16, 16)).shape == (2, 8, 16, 16)


def test_all_levels_bottom_first():
    net = FPN(conv, DOWNSAMPLE, UPSAMPLE, torch.add, STRUCTURE, last_level=False)
    shapes = [tuple(y.shape) for y in net(torch.randn(2, 3, 16, 16))]
    assert shapes == [(2, 16, 4, 4), (2, 8, 8, 8), (2, 8, 16, 16)]


def test_computation_of_a_one_level_network():
    left, right, bridge = nn.Conv2d(1, 2, 1), nn.Conv2d(2, 1, 1), nn.Conv2d(2, 2, 1)
    net = FPN(conv, DOWNSAMPLE, UPSAMPLE, torch.add, [[left, right], bridge])
    x = torch.randn(1, 1, 4, 4)
    kept = left(x)
    expected = right(kept + UPSAMPLE()(bridge(DOWNSAMPLE()(kept))))
    torch.testing.assert_close(net(x), expected)


def test_middle_branch():
    def concatenate(left, up):
        return torch.cat([left, up], dim=1)

    structure = [
        [[3, 8], [8, 4], [12, 8]],
        [[8, 8], [8, 8], [16, 8]],
        [8, 8],
    ]
    net = FPN(conv, DOWNSAMPLE, UPSAMPLE, concatenate, structure)
    assert [m.out_channels for path in net.middle_path for m in path] == [4, 8]
    assert net(torch.randn(1, 3, 8, 8)).shape == (1, 8, 8, 8)


def test_two_branches_have_identity_middle_paths():
    net = FPN(conv, DOWNSAMPLE, UPSAMPLE, torch.add, STRUCTURE)
    assert all(isinstance(m, nn.Identity) for m in net.middle_path)
    assert len(net.middle_path) == len(net.down_path) == len(net.up_path) == 2


@pytest.mark.parametrize(
    'structure',
    [
        [[[3, 8]], [8, 8]],  # one branch
        [[[3, 8], [8, 8], [8, 8], [8, 8]], [8, 8]],  # four branches
    ],
)
def test_two_or_three_branches(structure):
    with pytest.raises(ValueError, match=r'2 paths .* or 3'):
        FPN(conv, DOWNSAMPLE, UPSAMPLE, torch.add, structure)


def test_levels_must_have_the_same_number_of_paths():
    with pytest.raises(ValueError, match='different lengths'):
        FPN(conv, DOWNSAMPLE, UPSAMPLE, torch.add, [[[3, 8], [8, 8]], [[8, 8], [8, 8], [8, 8]], [8, 8]])


def test_layer_arguments_and_res_blocks():
    net = FPN(ResBlock2d, DOWNSAMPLE, UPSAMPLE, torch.add, STRUCTURE, True, kernel_size=3, padding=1)
    assert isinstance(net.bridge[0], nn.Module) and net.bridge[0].conv_path[0].layer.kernel_size == (3, 3)
    assert net(torch.randn(1, 3, 8, 8)).shape == (1, 8, 8, 8)
    with pytest.raises(TypeError, match='last_level must be a bool'):
        FPN(conv, DOWNSAMPLE, UPSAMPLE, torch.add, STRUCTURE, 'yes')
