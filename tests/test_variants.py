"""Architecture ablations (ModelConfig.variant): each breaks exactly its guideline, trains and round-trips a checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from dcgan.checkpoint import discriminator_from_checkpoint, generator_from_checkpoint, load_checkpoint
from dcgan.config import VARIANTS, DataConfig, ModelConfig, RunConfig, TrainConfig
from dcgan.errors import UserError
from dcgan.models import MLP_D_WIDTH, MLP_G_WIDTH, Maxout, build_models
from dcgan.train import train

POOLING = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.LPPool2d)


def _cfg(variant: str, size: int = 16) -> ModelConfig:
    return ModelConfig(image_size=size, channels=3, z_dim=8, ngf=4, ndf=4, variant=variant)


def _count(net: nn.Module, kind: type | tuple[type, ...]) -> int:
    return sum(isinstance(m, kind) for m in net.modules())


def test_default_is_the_paper_recipe() -> None:
    assert ModelConfig().variant == "dcgan"
    with pytest.raises(UserError, match="unknown --variant"):
        ModelConfig(variant="resnet")


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("size", [16, 32])
def test_every_variant_maps_z_to_images_and_images_to_logits(variant: str, size: int) -> None:
    g, d = build_models(_cfg(variant, size), seed=0)
    images = g(torch.randn(3, 8))
    assert images.shape == (3, 3, size, size) and images.abs().max() <= 1.0
    assert d(images).shape == (3,)
    assert len(d.features(images)) == len(d.blocks)


def test_each_ablation_breaks_its_own_guideline_only() -> None:
    nets = {v: build_models(_cfg(v), seed=0) for v in VARIANTS}
    bn = (nn.BatchNorm1d, nn.BatchNorm2d)
    g0, d0 = nets["dcgan"]
    # 16x16: G has project + 1 block with BatchNorm, D has 2 blocks of which the second has BatchNorm.
    assert (_count(g0, bn), _count(d0, bn)) == (2, 1)

    g, d = nets["pooling"]
    assert _count(d, nn.AvgPool2d) == 2 and all(c.stride == (1, 1) for c in d.modules() if isinstance(c, nn.Conv2d))
    assert _count(g, nn.Upsample) == 2 and _count(g, nn.ConvTranspose2d) == 1  # only the projection of z stays
    assert (_count(g, bn), _count(d, bn)) == (2, 1)

    g, d = nets["fc-hidden"]
    assert _count(g, nn.Linear) == 1 and _count(d, nn.Linear) == 2  # hidden layer + output layer
    assert isinstance(g.project[1], nn.Linear) and g.project[1].out_features == 16 * 4
    assert not _count(g0, nn.Linear) and not _count(d0, nn.Linear)

    g, d = nets["bn-everywhere"]
    assert isinstance(g.to_image[1], nn.BatchNorm2d) and isinstance(d.blocks[0][1], nn.BatchNorm2d)
    assert (_count(g, bn), _count(d, bn)) == (3, 2)

    g, d = nets["no-bn"]
    assert _count(g, bn) == _count(d, bn) == 0
    assert all(c.bias is not None for c in d.blocks.modules() if isinstance(c, nn.Conv2d))  # biases replace BN's shift

    g, d = nets["relu-d"]
    assert _count(d, nn.LeakyReLU) == 0 and _count(d, nn.ReLU) == len(d.blocks)
    assert (_count(g, bn), _count(d, bn)) == (2, 1)

    g, d = nets["mlp"]
    assert _count(g, (nn.Conv2d, nn.ConvTranspose2d)) == _count(d, (nn.Conv2d, nn.ConvTranspose2d)) == 0
    assert [m.out_features for m in g.modules() if isinstance(m, nn.Linear)] == [MLP_G_WIDTH, MLP_G_WIDTH, 3 * 16 * 16]
    assert [m.width for m in d.modules() if isinstance(m, Maxout)] == [MLP_D_WIDTH, MLP_D_WIDTH]
    for v in ("dcgan", "fc-hidden", "bn-everywhere", "no-bn", "relu-d", "mlp"):
        assert not any(_count(n, POOLING) for n in nets[v]), v


def test_maxout_keeps_the_largest_piece() -> None:
    m = Maxout(2, 1, 3)
    with torch.no_grad():
        m.linear.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]))
        m.linear.bias.zero_()
    assert m(torch.tensor([[2.0, -5.0], [-1.0, -1.0]])).flatten().tolist() == [3.0, 2.0]  # max(2, -5, 3), max(-1, -1, 2)


def test_default_keeps_its_parameter_names() -> None:
    """Checkpoints written before variants existed must still load into the default nets."""
    g, d = build_models(_cfg("dcgan"))
    assert sorted(g.state_dict())[:3] == ["blocks.0.0.weight", "blocks.0.1.bias", "blocks.0.1.num_batches_tracked"]
    assert "head.weight" in d.state_dict() and "to_image.0.weight" in g.state_dict()


@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_trains_and_round_trips_through_a_checkpoint(variant: str, tmp_path: Path) -> None:
    cfg = RunConfig(data=DataConfig(spec="rooms", image_size=16, num_images=32),
                    model=ModelConfig(image_size=16, z_dim=8, ngf=4, ndf=4, variant=variant),
                    train=TrainConfig(batch_size=16, max_steps=3, out=str(tmp_path), name=variant, num_fixed_samples=4, log_every=1))
    run_dir = train(cfg)
    payload = load_checkpoint(run_dir / "checkpoints" / "latest.pt")
    assert payload["config"]["model"]["variant"] == variant
    g = generator_from_checkpoint(payload, averaged=False)
    d = discriminator_from_checkpoint(payload)
    assert g.cfg.variant == d.cfg.variant == variant
    fresh, _ = build_models(g.cfg, seed=0)
    # Training moved the weights away from the initialisation, and the checkpoint kept them.
    assert any(not torch.equal(a, b) for a, b in zip(g.state_dict().values(), fresh.state_dict().values(), strict=True))
    for key, value in payload["generator"].items():
        assert torch.equal(g.state_dict()[key].cpu(), value.cpu())
    g.eval()
    with torch.no_grad():
        out = g(torch.randn(2, 8))
    assert out.shape == (2, 3, 16, 16) and torch.isfinite(out).all()
