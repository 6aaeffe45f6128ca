"""The DCGAN recipe (PAPER.md section 1), shapes for every size, and the paper's initialisation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dcgan.config import IMAGE_SIZES, ModelConfig
from dcgan.models import Discriminator, Generator, build_models, num_blocks

POOLING = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.LPPool2d)


def _convs(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]


@pytest.mark.parametrize("size", IMAGE_SIZES)
def test_no_pooling_and_no_hidden_linear_layers(size: int) -> None:
    g, d = build_models(ModelConfig(image_size=size, ngf=4, ndf=4))
    for net in (g, d):
        assert not [m for m in net.modules() if isinstance(m, POOLING)]
        assert not [m for m in net.modules() if isinstance(m, nn.Linear)]


def test_strided_convolutions_do_all_resampling() -> None:
    g, d = build_models(ModelConfig(image_size=64, ngf=4, ndf=4))
    g_convs, d_convs = _convs(g), _convs(d)
    assert all(isinstance(c, nn.ConvTranspose2d) for c in g_convs)
    assert [c.stride for c in g_convs] == [(1, 1)] + [(2, 2)] * 4  # projection of z, then 4 doublings
    assert all(isinstance(c, nn.Conv2d) for c in d_convs)
    assert [c.stride for c in d_convs] == [(2, 2)] * 4 + [(1, 1)]  # 4 halvings, then the 4x4 -> 1 logit


def test_batchnorm_everywhere_except_g_output_and_d_input() -> None:
    g, d = build_models(ModelConfig(image_size=64, ngf=4, ndf=4))
    g_stages = g.layers()
    assert all(isinstance(stage[1], nn.BatchNorm2d) for stage in g_stages[:-1])
    assert not any(isinstance(m, nn.BatchNorm2d) for m in g.to_image.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.blocks[0].modules())
    assert all(isinstance(block[1], nn.BatchNorm2d) for block in d.blocks[1:])
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.head.modules())


def test_activations_relu_in_g_tanh_output_leaky_relu_in_d() -> None:
    g, d = build_models(ModelConfig(image_size=32, ngf=4, ndf=4))
    assert all(isinstance(stage[-1], nn.ReLU) for stage in g.layers()[:-1])
    assert isinstance(g.to_image[-1], nn.Tanh)
    assert not any(isinstance(m, nn.LeakyReLU) for m in g.modules())
    leaky = [m for m in d.modules() if isinstance(m, nn.LeakyReLU)]
    assert len(leaky) == len(d.blocks) and all(m.negative_slope == 0.2 for m in leaky)
    assert not any(isinstance(m, nn.ReLU | nn.Tanh) for m in d.modules())


def test_paper_figure_widths_at_64() -> None:
    """Figure 1: z -> 4x4x1024 -> 8x8x512 -> 16x16x256 -> 32x32x128 -> 64x64x3 (base width 128)."""
    g = Generator(ModelConfig(image_size=64, ngf=128))
    shapes = []
    x = torch.zeros(2, 100)
    x = x.view(2, 100, 1, 1)
    for stage in g.layers():
        x = stage(x)
        shapes.append(tuple(x.shape[1:]))
    assert shapes == [(1024, 4, 4), (512, 8, 8), (256, 16, 16), (128, 32, 32), (3, 64, 64)]


@pytest.mark.parametrize("size", IMAGE_SIZES)
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("kernel", [4, 5])
def test_output_shapes_every_size(size: int, channels: int, kernel: int) -> None:
    cfg = ModelConfig(image_size=size, channels=channels, z_dim=10, ngf=4, ndf=4, kernel_size=kernel)
    g, d = build_models(cfg)
    images = g(torch.randn(2, 10))
    assert images.shape == (2, channels, size, size)
    assert images.abs().max() <= 1.0  # tanh range
    assert d(images).shape == (2,)
    assert [f.shape[-1] for f in d.features(images)] == [size // 2**i for i in range(1, num_blocks(size) + 1)]


def test_z_may_be_flat_or_image_shaped(tiny: ModelConfig) -> None:
    g = Generator(tiny).eval()
    z = torch.randn(3, tiny.z_dim)
    assert torch.equal(g(z), g(z.view(3, -1, 1, 1)))


def test_init_statistics() -> None:
    g, d = build_models(ModelConfig(image_size=64), seed=0)
    weights = torch.cat([c.weight.flatten() for net in (g, d) for c in _convs(net)])
    assert abs(weights.mean().item()) < 1e-3
    assert weights.std().item() == pytest.approx(0.02, rel=0.02)
    gains = torch.cat([m.weight for net in (g, d) for m in net.modules() if isinstance(m, nn.BatchNorm2d)])
    biases = torch.cat([m.bias for net in (g, d) for m in net.modules() if isinstance(m, nn.BatchNorm2d)])
    assert gains.mean().item() == pytest.approx(1.0, abs=2e-3)
    assert gains.std().item() == pytest.approx(0.02, rel=0.1)
    assert torch.count_nonzero(biases) == 0
    assert all(c.bias is None for net in (g, d) for c in _convs(net))  # BN follows: a bias would be redundant


def test_seeded_init_is_reproducible_and_leaves_global_rng_alone(tiny: ModelConfig) -> None:
    torch.manual_seed(123)
    before = torch.get_rng_state()
    g1, _ = build_models(tiny, seed=7)
    assert torch.equal(torch.get_rng_state(), before)
    g2, _ = build_models(tiny, seed=7)
    g3, _ = build_models(tiny, seed=8)
    assert all(torch.equal(a, b) for a, b in zip(g1.state_dict().values(), g2.state_dict().values(), strict=True))
    assert not torch.equal(g1.project[0].weight, g3.project[0].weight)


def test_discriminator_outputs_one_logit_per_image(tiny: ModelConfig) -> None:
    d = Discriminator(tiny)
    assert d(torch.zeros(5, 3, 16, 16)).shape == (5,)
