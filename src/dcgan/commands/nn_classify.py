"""The paper's MNIST appendix: a 1-nearest-neighbour classifier built from class-conditional samples.

A model trained with --conditional draws --samples images, split evenly over its classes; each real test
image takes the class of its nearest sample (pixel distance); the test error is printed beside the paper's
table (real data 3.1% at 50K; fully connected GAN 6.28% / 5.65% at 50K / 10M; DCGAN 2.98% / 1.48%).
--real SPEC runs the same classifier on that many real images (the 'real data' row).

Examples:
  dcgan nn-classify runs/00000-mnist --test mnist:test --samples 50000
  dcgan nn-classify runs/00000-mnist --test mnist.npz:test --samples 50000 --real mnist.npz:train
"""

from __future__ import annotations

from dcgan.commands import analysis_command
from dcgan.settings.nn_classify import NnClassifySettings

add_arguments, run = analysis_command("nn_classify", NnClassifySettings, "dcgan.analysis.nn_classify:nn_classify")
