"""Score a checkpoint's samples against real images: FID, KID, precision/recall/density/coverage.

Generates --num-samples images from seeds --seed.. (G in eval mode), extracts features with --extractor,
compares them with the features of a fixed random subset of real images (--data, default the run's own
training data; features cached on disk) and writes every number with the full protocol and library
versions to RUN/analysis/eval/results.json (per checkpoint: RUN/analysis/eval/<checkpoint>/ unless latest.pt).

Extractors: inception (the standard FID; pip install 'dcgan[fid]'; about 5 images/s on 2 CPU cores),
judge:PATH (FD-judge), dfeat or dfeat:CKPT (FD-dfeat), random (FD-random), pixels (FD-pixels).
Only inception gives "FID".

Examples:
  dcgan eval runs/00003-mnist --extractor inception --num-samples 1000
  dcgan eval runs/00003-mnist/checkpoints/epoch-0001.pt --extractor judge:judges/mnist.pt --metrics fid,prdc
  dcgan eval runs/00007-rooms --data rooms:test --extractor random --num-samples 5000
"""

from __future__ import annotations

from dcgan.commands import analysis_command
from dcgan.settings.eval import EvalSettings

add_arguments, run = analysis_command("eval", EvalSettings, "dcgan.metrics.evaluate:evaluate")
