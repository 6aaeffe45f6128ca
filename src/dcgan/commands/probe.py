"""Linear probe of the discriminator (the paper's section 5): how well do D's features classify images?

D's features are every conv layer max-pooled to 4x4 and concatenated, extracted with BatchNorm in eval
mode and standardised with training-set statistics. A linear L2-SVM (LinearSVC, squared hinge) is
fitted with C chosen on a validation split carved from the training data, never from test. The same
pipeline runs on a randomly initialised D of the same architecture and on raw pixels, for comparison.

Examples:
  dcgan probe runs/00000-mnist --train ../shared/data/mnist.npz --test ../shared/data/mnist.npz:test
  dcgan probe runs/00001-cifar --train cifar10 --test cifar10:test --data-root ../shared/data \\
      --labels-per-class 100 --draws 10 --threads 1

Writes RUN/analysis/probe/results.json (the table, every chosen C and validation score) and table.txt.
Features are cached (keyed by checkpoint digest, images and protocol), so a rerun only refits the SVMs.
"""

from __future__ import annotations

from dcgan.commands import analysis_command
from dcgan.settings.probe import ProbeSettings

add_arguments, run = analysis_command("probe", ProbeSettings, "dcgan.analysis.probe:probe")
