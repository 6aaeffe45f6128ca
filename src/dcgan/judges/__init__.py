"""Judges: small trained classifiers that say what an image contains, to score generated images.

A judge is a small CNN with one classification head per labelled factor (rooms: wall, floor, window,
bed, light, rug; MNIST: label; CelebA: any attributes), plus a *realness net* that says whether an
image looks like the training data at all: without it, a judge is confidently wrong on garbage (grey
noise blobs get confident answers from heads that never saw such images). For rooms, a judge file
also holds a *localiser*: a small fully convolutional net giving per-pixel masks of windows, beds and rugs.

Python API (what the analysis tools import):

    judge = load_judge("judges/rooms-64.pt")
    probs = judge.predict(images_uint8)            # {factor: (N, K) probabilities}; probs.real: (N,) realness
    feats = judge.features(images_uint8)           # (N, F) penultimate features (FD-judge metric)
    ok = judge.confident(probs)                    # (N,) max probability > 0.9 on every head, realness > 0.9 too
    query = parse_query("window=2,wall=red")
    seeds = select_seeds(G, model_cfg, judge, query, count=8)
    masks = judge.localiser.masks(images_uint8)    # {"window": (N, H, W), "bed": ..., "rug": ...}

A judge only takes images of the size and channel count it was trained on; anything else is a
UserError that says so (there is no silent resizing). Judge files are saved and checked by the same
code as checkpoints (see ``files``). Modules:

    nets      JudgeNet, LocaliserNet and their configs (a realness net is a JudgeNet with one 'real' head)
    judge     Judge and Localiser: inference on uint8 images; Probs; check_images; CONFIDENT
    files     save_judge / load_judge
    augment   degrade (changes a judge must ignore) and make_negatives (images realness must reject)
    training  TrainSettings, train_judge, train_localiser, evaluate, evaluate_realness, iou
    query     Condition, parse_query, match, select_seeds
    summary   summarise, format_summary
    tasks     train / score / select: what 'dcgan judge ...' does, as library calls
"""

from dcgan.judges.augment import NEGATIVES, degrade, make_negatives
from dcgan.judges.files import FORMAT, VERSION, load_judge, save_judge
from dcgan.judges.judge import CONFIDENT, Judge, Localiser, Probs, check_images
from dcgan.judges.nets import JudgeConfig, JudgeNet, LocaliserConfig, LocaliserNet, realness_config
from dcgan.judges.query import Condition, match, parse_query, select_seeds
from dcgan.judges.summary import format_summary, summarise
from dcgan.judges.training import (
    DEFAULT_MIN_ACCURACY,
    TrainSettings,
    evaluate,
    evaluate_realness,
    iou,
    pick_factors,
    train_judge,
    train_localiser,
)

__all__ = [
    "CONFIDENT", "DEFAULT_MIN_ACCURACY", "FORMAT", "NEGATIVES", "VERSION",
    "Condition", "Judge", "JudgeConfig", "JudgeNet", "Localiser", "LocaliserConfig", "LocaliserNet", "Probs", "TrainSettings",
    "check_images", "degrade", "evaluate", "evaluate_realness", "format_summary", "iou", "load_judge", "make_negatives",
    "match", "parse_query", "pick_factors", "realness_config", "save_judge", "select_seeds", "summarise", "train_judge",
    "train_localiser",
]
