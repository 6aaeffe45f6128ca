"""Image features, one path for every tool: an extractor interface, its builders, and one on-disk cache.

- ``base``: ``Extractor`` (spec, kind, dim, cache identity, protocol, uint8 images -> float32 features);
- ``discriminator``: the paper's D features (section 5.1), full 4x4 grid or channel means, one builder;
- ``extractors``: judge, Inception, random D, checkpoint D and pixel builders behind ``build_extractor(spec)``;
- ``inception``: the standard FID network and its input protocol;
- ``cache``: ``cached_features(extractor, images)``, keyed by extractor identity and an images digest.

The probe, ``dcgan eval``, the memorisation check and evaluation during training all go through here,
so a feature computed by one is the same number, and the same cache entry, for the others.
"""

from __future__ import annotations

from dcgan.features.base import Extractor, file_digest
from dcgan.features.cache import Cached, cache_path, cached_features, images_digest
from dcgan.features.discriminator import (
    GRID,
    d_features,
    describe_split,
    discriminator_extractor,
    feature_split,
    weights_identity,
)
from dcgan.features.extractors import (
    EXTRACTORS,
    build_extractor,
    inception_extractor,
    judge_extractor,
    pixel_features,
    pixels_extractor,
    random_discriminator,
)

__all__ = [
    "EXTRACTORS", "GRID", "Cached", "Extractor", "build_extractor", "cache_path", "cached_features", "d_features",
    "describe_split", "discriminator_extractor", "feature_split", "file_digest", "images_digest", "inception_extractor",
    "judge_extractor", "pixel_features", "pixels_extractor", "random_discriminator", "weights_identity",
]
