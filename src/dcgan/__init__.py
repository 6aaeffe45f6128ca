"""dcgan: DCGAN (Radford, Metz & Chintala, ICLR 2016) with training, sampling and the paper's experiments.

Python users start with ``dcgan.load(run_or_checkpoint)`` (a :class:`dcgan.api.Model`) and the tools in
:mod:`dcgan.analysis`; ``dcgan.analysis.save(result, folder)`` writes any tool's figures and results.json.
Importing the package loads no torch and changes nothing in the process (the allocator setting of
:mod:`dcgan._alloc` is applied by the command line and the trainer only).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {"load": "dcgan.api", "load_judge": "dcgan.api", "Model": "dcgan.api"}


def __getattr__(name: str) -> Any:
    """Import the API on first use, so that ``import dcgan`` (and ``dcgan --help``) stays light."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in ("analysis", "report", "settings", "judges"):
        return importlib.import_module(f"dcgan.{name}")
    raise AttributeError(f"module 'dcgan' has no attribute {name!r}")
