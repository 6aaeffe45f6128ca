"""Make the generator "forget" an object (paper section 6.3.1): on generated samples, boxes of the object
(hand-drawn in a JSON file, or found by a rooms judge's localiser); a logistic regression on G's
second-highest conv layer separates feature vectors inside the boxes from random other positions of
the same images; every feature map with a positive weight is zeroed everywhere; the same seeds are
generated again.

With a judge, the effect is measured on fresh seeds: the share of samples showing the object before
and after, whether every other factor (bed, wall colour, ...) stays, and the same for a control that
drops as many randomly chosen maps.

Examples:
  dcgan forget runs/00000-dcgan --object window --judge judges/rooms-64.pt
  dcgan forget runs/00000-dcgan --object window --boxes my_boxes.json            # hand-drawn boxes, no judge
  dcgan sample runs/00000-dcgan --seeds 0-63 --drop runs/00000-dcgan/analysis/forget/dropped.json

Writes RUN/analysis/forget/: figure.png (rows: original / maps dropped / random control), dropped.json
(the dropped maps, for 'dcgan sample --drop') and results.json.
"""

from __future__ import annotations

from dcgan.commands import analysis_command
from dcgan.settings.forget import ForgetSettings

add_arguments, run = analysis_command(
    "forget", ForgetSettings, "dcgan.analysis.forget:forget",
    judge="judge file: its localiser finds the boxes when --boxes is not given, and it measures the effect")
