"""Every tool as a library function: ``tool(model, settings=None, **options) -> Result``, writing nothing.

    import dcgan
    model = dcgan.load("runs/00000-demo")
    result = dcgan.analysis.walk(model, seeds=[1, 2, 3], steps=8)
    dcgan.analysis.save(result, "out/walk")    # figures + results.json (dcgan.report.save)

Each function here shares its name with the module that holds it (``dcgan.analysis.walk`` is the function;
its module is ``sys.modules["dcgan.analysis.walk"]``, and ``from dcgan.analysis.walk import WalkResult``
works as usual). Settings dataclasses live in :mod:`dcgan.settings`, writers in :mod:`dcgan.report`.
"""

from __future__ import annotations

from dcgan.analysis.arithmetic import arithmetic
from dcgan.analysis.direction import direction
from dcgan.analysis.forget import forget
from dcgan.analysis.memorization import memorization
from dcgan.analysis.nn_classify import nn_classify
from dcgan.analysis.probe import probe
from dcgan.analysis.project import project
from dcgan.analysis.sample import sample
from dcgan.analysis.visualize import visualize
from dcgan.analysis.walk import walk
from dcgan.metrics.evaluate import evaluate
from dcgan.report import save

__all__ = ["arithmetic", "direction", "evaluate", "forget", "memorization", "nn_classify", "probe", "project", "sample", "save", "visualize", "walk"]
