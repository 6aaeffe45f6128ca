"""Memorisation check: nearest training images of generated samples, against those of held-out real images.

For --samples generated images (seeds 0..N-1) and as many held-out real images, finds the nearest training
image in pixel space (RMS difference, pixel values on a [0, 1] scale) and in a feature space (D's features
of this checkpoint, or a judge's with --judge). Held-out images show how far a genuinely new image lies
from the training set. A sample is flagged as a near-copy when it is closer than the --quantile (1%) point
of the held-out distances; about quantile x N flags are expected by chance.

Writes pairs-pixel.png and pairs-features.png (the closest sample | nearest-training-image pairs, flagged
samples framed in red), distances.png (histograms of both distance sets with the threshold) and results.json.
Run it on the epoch-1 and epoch-5 checkpoints of a run to see whether longer training moves samples
towards training images (each checkpoint file gets its own folder).

Examples:
  dcgan memorization runs/00000-dcgan/checkpoints/epoch-0001.pt           # the run's own training data
  dcgan memorization runs/00001-mnist/checkpoints/epoch-0005.pt --data ../shared/data/mnist.npz
  dcgan memorization RUN --judge rooms-64.pt --samples 2000 --train-images 20000
"""

from __future__ import annotations

from dcgan.commands import analysis_command
from dcgan.settings.memorization import MemorizationSettings

add_arguments, run = analysis_command("memorization", MemorizationSettings, "dcgan.analysis.memorization:memorization",
                                      judge="use this judge's features as the feature space (default: D's features of the checkpoint)")
