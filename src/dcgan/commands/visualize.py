"""What D's units respond to: guided back-propagation of chosen feature maps of a D layer, each on the
real images where it responds most, beside the same view of a randomly initialised D (paper section 6.2).

On rooms data it also plays a "pointing game": for every unit of the layer (default) and each of its
top images, is the saliency peak inside a window or bed? Trained D against random D against chance
(the share of those images' pixels that are window or bed).

Examples:
  dcgan visualize runs/00000-dcgan                                 # last layer, units 0-5, on its training data
  dcgan visualize runs/00000-dcgan --layer -2 --units 0-15 --top-k 10 --data rooms:test

Writes RUN/analysis/visualize/: figure.png (random D | trained D, one row per unit), top_images.png
(the images behind each row) and results.json (top images, responses, pointing-game numbers).
"""

from __future__ import annotations

from dcgan.commands import analysis_command
from dcgan.settings.visualize import VisualizeSettings

add_arguments, run = analysis_command("visualize", VisualizeSettings, "dcgan.analysis.visualize:visualize")
