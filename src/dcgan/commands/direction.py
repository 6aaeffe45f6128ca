"""A direction in the latent space (the paper's "turn" vector): d = mean(to) - mean(from), added to any code.

--from and --to are groups of at least 4 exemplars, as seeds (--from 0-3) or judge queries
(--from window=0 --to window=2: the first matching seeds). Writes grid.png (rows = --seeds, columns =
codes z + s d for each of --scales) and exemplars.png (one row per group). With --judge, results.json holds
the share of test seeds whose judged factor flips to the target at scale 1 while every other factor keeps
its value (seeds already at the target left out), the same for a random direction of equal length (the
control), and the share at the target per scale.

Examples:
  dcgan direction RUN --judge rooms-64.pt --from window=0 --to window=2
  dcgan direction RUN --judge rooms-64.pt --from light=day --to light=night --scales 0,0.5,1,1.5 --seeds 0-299
  dcgan direction RUN --from 3,8,11,20 --to 5,7,9,40
"""

from __future__ import annotations

from dcgan.commands import analysis_command
from dcgan.settings.direction import DirectionSettings

add_arguments, run = analysis_command("direction", DirectionSettings, "dcgan.analysis.direction:direction",
                                      judge="judge file: selects query groups and measures the flips")
