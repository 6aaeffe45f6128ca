"""Walk through the latent space: decode paths through a series of random codes (the paper's figure 4).

Each walk visits --points codes (seeds; the paper uses 9) and goes from one to the next in --steps frames,
both ends included. Written per walk: walk-NN.png (one row per segment) and walk-NN.gif (the whole path,
looping). With --judge, results.json also holds, per walk and pooled: the share of frames judged
confidently, and "returns" (flicker: along a segment, how often a factor's judged value changes to a
value it already had, e.g. red -> blue -> red), also counted over confidently judged frames only, and
for the same frames shuffled within each segment (the control). Smooth walks: a high confident share,
few returns, far fewer than shuffled.

Interpolation (--mode, default auto): slerp for normal z, lerp for uniform z. For normal z a straight
line (lerp) sags to 0.71 of the typical norm half-way, where G was never trained, while slerp keeps codes
at a typical norm. For uniform z in [-1, 1] G was trained on the whole cube: lerp stays inside it (its
norm sags to ~0.65, still inside the support), while slerp pushes ~5% of the coordinates outside the
cube half-way, where G never was. On our rooms models the judged quality of the frames barely differed
either way (README: measured). results.json records how typical each walk's codes are (norm ratio;
share outside the cube).

Examples:
  dcgan walk runs/00000-dcgan                                     # 9 random points (seeds 0-8), 10 steps
  dcgan walk runs/00000-dcgan --walks 10 --judge judges/rooms-64.pt  # 10 walks, measured
  dcgan walk runs/00000-dcgan --seeds 3,17,42,7 --steps 16 --mode lerp
"""

from __future__ import annotations

from dcgan.commands import analysis_command
from dcgan.settings.walk import WalkSettings

add_arguments, run = analysis_command("walk", WalkSettings, "dcgan.analysis.walk:walk",
                                     judge='a judge file (dcgan judge train) to measure the walks with')
