"""Generate images from a checkpoint: a grid and/or one PNG per seed.

Seed s always gives the same image, whatever the batch: G runs in eval mode, so BatchNorm uses the
running statistics gathered during training instead of the batch's own. A run trained with --ema
samples from its moving average of G (as its training grids did).

Examples:
  dcgan sample runs/00000-dcgan --seeds 0-63                      # RUN/analysis/sample/seeds-0-63.png
  dcgan sample runs/00000-dcgan/checkpoints/epoch-0005.pt --seeds 0-999 --each --no-grid --out export/
  dcgan sample runs/00000-dcgan --seeds 0-63 --drop runs/00000-dcgan/analysis/forget/dropped.json
"""

from __future__ import annotations

from dcgan.commands import analysis_command
from dcgan.settings.sample import SampleSettings

add_arguments, run = analysis_command("sample", SampleSettings, "dcgan.analysis.sample:sample")
