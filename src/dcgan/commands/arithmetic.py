"""Vector arithmetic on codes (the paper's figure 7): y = mean(A) - mean(B) + mean(C), decoded.

Each concept is a group of exemplars, given as seeds (--a 3,17,42) or as a judge query
(--a "window=1,wall=red": the first seeds from --search-start whose image the judge finds matching,
with probability >= --min-prob). Codes are averaged per concept (3 exemplars by default, as in the paper).
Writes figure.png: each concept's exemplars and their decoded mean, G(y) in the centre of a 3x3 block with
8 variations y + uniform noise, and the same arithmetic on pixels as the baseline.

The noise (--noise, default 0.25) is relative to the spread of z: the paper's U[-0.25, 0.25] is for z
uniform in [-1, 1] (sd 0.58), and uniform z keeps exactly that; normal z (sd 1) gets sqrt(3) times it,
U[-0.433, 0.433], without which the variations of a normal-z model barely differ. results.json records
the absolute half-width (figure.noise_half_width).

--evaluate N (needs a judge with >= 2 factors, e.g. rooms): N random expressions
(X with P) - (X without P) + (Y without P), each expected to give (Y with P); reports the share of results
the judge finds to have the target values of both factors, for 3-exemplar means, single exemplars and
pixel-space arithmetic, on the same expressions (evaluation.png shows the first rows).

Examples:
  dcgan arithmetic RUN --a 3,17,42 --b 5,8,13 --c 21,34,55
  dcgan arithmetic RUN --judge rooms-64.pt --a "window=2,wall=red" --b "window=0,wall=red" --c "window=0,wall=blue"
  dcgan arithmetic RUN --judge rooms-64.pt --evaluate 100
"""

from __future__ import annotations

from dcgan.commands import analysis_command
from dcgan.settings.arithmetic import ArithmeticSettings

add_arguments, run = analysis_command("arithmetic", ArithmeticSettings, "dcgan.analysis.arithmetic:arithmetic",
                                      judge="judge file: selects query concepts, judges the results; needed for --evaluate")
