"""What the explorer page asks of a model, as plain methods: request parameters in, uint8 images or data out.

Nothing here knows HTTP (``app`` does that), and nothing here re-implements a tool: grids come from
``Model.sample``, walks from :func:`dcgan.analysis.walk`, arithmetic from :func:`dcgan.analysis.arithmetic`,
directions from :mod:`dcgan.analysis.direction`, drops from :mod:`dcgan.analysis.forget`, D's units from
:func:`dcgan.analysis.visualize`, labels and the filter from :mod:`dcgan.judges`. Every parameter arrives
as the text of a query string and is checked here, so that a bad request is a one-line
:class:`~dcgan.errors.UserError` (the app turns it into a 400 with that message) and never a traceback.

Files: the explorer reads only the checkpoint, the judge and the drop files it was given when it was
made; a drop is chosen by its number, so no request can name a path. It writes no file: a GIF is encoded
in memory and a drop set computed from the page stays in memory (its command says how to write it).
"""

from __future__ import annotations

import io
import math
import shlex
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from dcgan.api import Model
from dcgan.errors import UserError
from dcgan.seeds import seed_ranges, seed_text

MAX_SEED = 2**32 - 1  # the largest seed the page accepts; torch takes more, but no user types more
SEED_CACHE = 8192  # decoded images kept per (seed, drop): paging back and forth costs nothing
MAX_TEXT = 512  # longest seed list or query text accepted
MAX_STEPS = 64  # frames per walk segment
SCALE_LIMIT = 2.0  # the direction slider's range, as the issue asks (-2 .. +2)
MIN_DIRECTION = 4  # exemplars per direction group: the rule of DirectionSettings, so the shown command runs
SMALL = 8  # requests of at most this many images run on one CPU thread (see ``threads_for``)


def threads_for(count: int) -> Any:
    """Return a context that runs a decode of ``count`` images on one CPU thread when it is small.

    A slider step decodes one image: too little work to split, and on a machine busy with other jobs every
    multi-threaded op waits for its slowest thread (measured on 2 busy cores: one 64 px image in 20 ms on
    one thread, several hundred ms on two). Larger batches keep torch's thread count.
    """
    from contextlib import nullcontext

    from dcgan.device import cpu_threads

    return cpu_threads(1) if count <= SMALL else nullcontext()


@dataclass
class Drop:
    """A set of G's feature maps to zero: from a dropped.json given on the command line, or computed on the page."""

    name: str  # what the page shows
    layer: int
    maps: list[int]
    renorm: Any
    obj: str
    layer_name: str
    file: str | None = None  # the path given on the command line (None: computed here, in memory)
    command: str = ""  # how to make the same set from the command line
    lines: list[str] = field(default_factory=list)

    def describe(self, index: int) -> dict[str, Any]:
        return {"id": index, "name": self.name, "object": self.obj, "count": len(self.maps), "layer": self.layer_name,
                "file": self.file, "command": self.command, "lines": self.lines}


def quote(path: Any) -> str:
    """Return a path as a shell word, for the commands the page shows."""
    return shlex.quote(str(path))


class Explorer:
    """A model (and optionally a judge and drop files) with the page's operations; one lock serialises the model's use."""

    def __init__(self, model: Model, judge: Any = None, drops: Sequence[str] = (), *, max_images: int = 256,
                 visualize_images: int = 512, bundled: bool = False) -> None:
        from dcgan.analysis.forget import load_drop_file

        self.model = model
        self.judge = judge
        self.max_images = max_images
        self.visualize_images = visualize_images
        self.bundled = bundled
        self.lock = threading.Lock()  # G carries forward hooks while a drop is applied: one request at a time
        self.cache: OrderedDict[tuple[int, int], torch.Tensor] = OrderedDict()
        self.memo: OrderedDict[tuple[Any, ...], Any] = OrderedDict()  # recent analysis results (arithmetic, visualize)
        self.ckpt = quote(model.path)
        self.judge_flag = f" --judge {quote(judge.source)}" if judge is not None else ""
        self.drops: list[Drop] = []
        for path in drops:
            layer, maps, record = load_drop_file(path, model.generator, model.payload.get("digest"))
            self.drops.append(Drop(f"{record.get('object', '?')}: {len(maps)} maps ({path})", layer, maps, record.get("renorm"),
                                   str(record.get("object", "?")), str(record.get("layer_name", layer)), str(path),
                                   f"dcgan forget {self.ckpt} --object {quote(record.get('object', 'window'))}{self.judge_flag}"))

    # ------------------------------------------------------------------------------------------
    # Reading request parameters (text) into checked values.

    def seeds(self, text: str | None, what: str = "seeds", limit: int | None = None) -> list[int]:
        """Return the seeds of '0-63' / '3,17,42', within range and within the per-request image limit."""
        if text is None or not text.strip():
            raise UserError(f"no {what} given: type seeds like '0-63' or '3,17,42'")
        if len(text) > MAX_TEXT:
            raise UserError(f"{what}: {len(text)} characters is too long (at most {MAX_TEXT})")
        limit = limit or self.max_images
        try:
            ranges = seed_ranges(text.replace(" ", ""))
        except UserError:
            raise UserError(f"cannot read {what} {text[:60]!r}: use a range '0-63', a list '3,17,42' or both") from None
        count = 0
        for first, last in ranges:  # bounded before anything is expanded: '0-99999999999' must not build 10^11 seeds
            if last > MAX_SEED:
                raise UserError(f"{what}: seed {last} is out of range (seeds go from 0 to {MAX_SEED})")
            count += last - first + 1
            if count > limit:
                raise UserError(f"{what}: more seeds than one request may ask for ({limit}); page through them")
        return [seed for first, last in ranges for seed in range(first, last + 1)]

    def seed(self, text: str | None, what: str = "seed") -> int:
        """Return one seed in 0..MAX_SEED."""
        if text is None or not text.strip():
            raise UserError(f"no {what} given")
        t = text.strip()
        if not t.isdigit() or int(t) > MAX_SEED:
            raise UserError(f"{what} must be a whole number between 0 and {MAX_SEED}, not {t[:40]!r}")
        return int(t)

    @staticmethod
    def number(text: str | None, what: str, lo: float, hi: float, default: float | None = None, integer: bool = False) -> float:
        """Return a number in [lo, hi] (the default when absent)."""
        if text is None or text == "":
            if default is None:
                raise UserError(f"no {what} given")
            return default
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise UserError(f"{what} must be a {'whole ' if integer else ''}number, not {text[:40]!r}") from None
        if not (math.isfinite(value) and lo <= value <= hi):
            raise UserError(f"{what} must be between {lo:g} and {hi:g}, not {value:g}")
        return value

    def drop(self, text: str | None) -> int:
        """Return a drop's number (-1: none). Drops are chosen by number: a request cannot name a file."""
        if text is None or text in ("", "none", "-1"):
            return -1
        if not text.isdigit() or int(text) >= len(self.drops):
            known = f"0..{len(self.drops) - 1}" if self.drops else "none: start dcgan explore with --drop FILE or compute one"
            raise UserError(f"no drop set {text[:40]!r}: the drop sets are numbered ({known})")
        return int(text)

    # ------------------------------------------------------------------------------------------
    # Images.

    def images(self, seeds: Sequence[int], drop: int = -1) -> torch.Tensor:
        """Return uint8 (N, C, H, W) images of ``seeds`` (with drop set ``drop`` applied), decoding only those not cached."""
        from dcgan.analysis.forget import drop_maps

        with self.lock:
            missing = list(dict.fromkeys(s for s in seeds if (s, drop) not in self.cache))
            if missing:
                with threads_for(len(missing)):
                    if drop < 0:
                        new = self.model.sample(missing)
                    else:
                        d = self.drops[drop]
                        with drop_maps(self.model.generator, d.layer, d.maps, d.renorm):
                            new = self.model.sample(missing)
                for s, image in zip(missing, new, strict=True):
                    self.cache[(s, drop)] = image
            out = torch.stack([self.cache[(s, drop)] for s in seeds])
            for s in seeds:
                self.cache.move_to_end((s, drop))
            while len(self.cache) > SEED_CACHE:
                self.cache.popitem(last=False)
        return out

    def sample_command(self, seeds: Sequence[int], drop: int = -1) -> str:
        """Return the `dcgan sample` call that writes the same grid."""
        extra = ""
        if drop >= 0:
            d = self.drops[drop]
            extra = f" --drop {quote(d.file)}" if d.file else f" --drop RUN/analysis/forget/dropped.json  # after: {d.command}"
        return f"dcgan sample {self.ckpt} --seeds {seed_text(seeds)}{extra}"

    # ------------------------------------------------------------------------------------------
    # Judge: labels and the query filter.

    def need_judge(self, what: str) -> Any:
        if self.judge is None:
            raise UserError(f"{what} needs a judge: start dcgan explore with --judge JUDGE.pt (dcgan judge train makes one)")
        return self.judge

    def labels(self, seeds: Sequence[int]) -> list[dict[str, Any]]:
        """Return per seed the judge's most likely value of each factor and whether it is confident."""
        judge = self.need_judge("labels")
        images = self.images(seeds)
        with self.lock:
            probs = judge.predict(images)
            sure = judge.confident(probs)
        names = judge.value_names
        out = []
        for i, s in enumerate(seeds):
            factors = {f: names[f][int(p[i].argmax())] for f, p in probs.items()}
            top = {f: round(float(p[i].max()), 3) for f, p in probs.items()}
            out.append({"seed": s, "text": judge.describe(probs, i), "factors": factors, "probability": top, "confident": bool(sure[i])})
        return out

    def select(self, query: str | None, start: int, count: int, search: int) -> dict[str, Any]:
        """Return the first ``count`` seeds from ``start`` (searching at most ``search``) whose samples match a judge query."""
        from dcgan.judges import parse_query, select_seeds

        judge = self.need_judge("the filter")
        if query is None or not query.strip():
            raise UserError("empty filter: type a judge query such as 'window=2,wall=red'")
        if len(query) > MAX_TEXT:
            raise UserError(f"query: {len(query)} characters is too long (at most {MAX_TEXT})")
        conditions = parse_query(query)
        with self.lock:
            found = select_seeds(self.model.generator, self.model.config, judge, conditions, count, start, search, strict=False)
        q = ",".join(map(str, conditions))
        return {"seeds": found, "query": q, "searched": [start, start + search - 1],
                "command": f"dcgan judge select {quote(judge.source)} {self.ckpt} --query {quote(q)} --count {count} "
                           f"--start-seed {start} --max-seeds {search}"}

    # ------------------------------------------------------------------------------------------
    # Walk.

    def walk_frames(self, seeds: Sequence[int], steps: int) -> torch.Tensor:
        """Return the walk's frames, uint8 (segments, steps, C, H, W), through :func:`dcgan.analysis.walk`."""
        from dcgan.analysis import walk

        if len(seeds) < 2:
            raise UserError("a walk needs at least two pinned samples: click samples in the grid to pin them")
        if (len(seeds) - 1) * steps > self.max_images:
            raise UserError(f"this walk has more than {self.max_images} frames: use fewer points or steps")
        with self.lock:
            return walk(self.model, seeds=list(seeds), steps=steps).images[0]

    def walk_frame(self, seeds: Sequence[int], t: float) -> torch.Tensor:
        """Return uint8 (1, C, H, W): the image at position ``t`` in [0, len(seeds) - 1] along the walk's path."""
        from dcgan.latent import default_mode, lerp, slerp

        if len(seeds) < 2:
            raise UserError("a walk needs at least two pinned samples: click samples in the grid to pin them")
        if not 0 <= t <= len(seeds) - 1:
            raise UserError(f"position must be between 0 and {len(seeds) - 1}, not {t:g}")
        segment = min(int(t), len(seeds) - 2)
        z = self.model.codes(seeds[segment : segment + 2])
        fn = slerp if default_mode(self.model.z_dist) == "slerp" else lerp
        code = fn(z[:1], z[1:], torch.tensor([[t - segment]], dtype=z.dtype))
        with self.lock, threads_for(1):
            return self.model.decode(code)

    def walk_command(self, seeds: Sequence[int], steps: int) -> str:
        return f"dcgan walk {self.ckpt} --seeds {','.join(map(str, seeds))} --steps {steps}"

    def walk_gif(self, seeds: Sequence[int], steps: int, fps: float = 8.0) -> bytes:
        """Return the walk as a looping GIF, encoded in memory by the walk tool's own writer."""
        from dcgan.report.walk import save_walk_gif

        frames = self.walk_frames(seeds, steps)
        buffer = io.BytesIO()
        buffer.name = "walk.gif"  # PIL picks the format from the name; nothing touches the disk
        save_walk_gif(frames, buffer, fps)
        return buffer.getvalue()

    # ------------------------------------------------------------------------------------------
    # Arithmetic and direction.

    def slots(self, given: dict[str, str | None], names: Sequence[str]) -> list[list[int]]:
        """Return the seeds of each named slot, refusing an empty one by name."""
        out = []
        for name in names:
            text = given.get(name)
            if text is None or not text.strip():
                raise UserError(f"slot {name.upper()} is empty: drag pinned samples into it")
            out.append(self.seeds(text, f"slot {name.upper()}", limit=64))
        return out

    def arithmetic(self, a: Sequence[int], b: Sequence[int], c: Sequence[int]) -> Any:
        """Return :func:`dcgan.analysis.arithmetic` of the three slots (means of their seeds), remembered for the next part."""
        from dcgan.analysis import arithmetic

        key = ("arithmetic", tuple(a), tuple(b), tuple(c))
        with self.lock:
            if key not in self.memo:
                exemplars = min(len(a), len(b), len(c))
                self.memo[key] = arithmetic(self.model, a=list(a), b=list(b), c=list(c), exemplars=exemplars)
                self._trim_memo()
            return self.memo[key]

    def arithmetic_command(self, a: Sequence[int], b: Sequence[int], c: Sequence[int]) -> str:
        return (f"dcgan arithmetic {self.ckpt} --a {seed_text(a)} --b {seed_text(b)} --c {seed_text(c)} "
                f"--exemplars {min(len(a), len(b), len(c))}")

    def direction(self, z_from: Sequence[int], z_to: Sequence[int], seed: int, scale: float) -> torch.Tensor:
        """Return uint8 (1, C, H, W): G(z_seed + scale * (mean(to) - mean(from))), the direction tool's vector."""
        from dcgan.analysis.direction import apply_direction, mean_difference

        if min(len(z_from), len(z_to)) < MIN_DIRECTION:
            raise UserError(f"a direction needs at least {MIN_DIRECTION} samples in each group (from has {len(z_from)}, to has "
                            f"{len(z_to)}), as dcgan direction asks: from fewer, d is dominated by what else the images show")
        d = mean_difference(self.model.codes(z_from), self.model.codes(z_to))
        z = apply_direction(self.model.codes([seed]), d, [scale])[:, 0]
        with self.lock, threads_for(1):
            return self.model.decode(z)

    def direction_command(self, z_from: Sequence[int], z_to: Sequence[int], seed: int, scale: float) -> str:
        return (f"dcgan direction {self.ckpt} --from {seed_text(z_from)} --to {seed_text(z_to)} --seeds {seed} "
                f"--scales 0,{scale:g} --exemplars {min(len(z_from), len(z_to))}")

    # ------------------------------------------------------------------------------------------
    # Forget: computing a drop set from the page (kept in memory).

    def compute_drop(self, obj: str, max_maps: int | None, seeds: str = "0-149") -> Drop:
        """Fit a drop set with the judge's localiser (:func:`dcgan.analysis.forget`), keep it in memory; return it."""
        from dcgan.analysis import forget

        judge = self.need_judge("computing a drop set")
        if judge.localiser is None:
            raise UserError("this judge has no localiser (rooms judges have one): give a dropped.json with --drop instead")
        if obj not in judge.localiser.objects:
            raise UserError(f"the localiser finds {', '.join(judge.localiser.objects)}, not {obj[:40]!r}")
        with self.lock:
            # A small measurement (128 fresh seeds, no random controls): the page wants the set, the command measures it fully.
            result = forget(self.model, judge=judge, object=obj, seeds=seeds, max_maps=max_maps, control_draws=0,
                            eval_seeds="100000-100127")
        limit = f" --max-maps {max_maps}" if max_maps else ""
        drop = Drop(f"{obj}: {len(result.dropped_maps)} maps (computed here)", result.layer, result.dropped_maps,
                    result.drop.get("renorm"), obj, result.layer_name, None,
                    f"dcgan forget {self.ckpt} --object {quote(obj)} --seeds {seeds}{limit}{self.judge_flag}", result.lines())
        with self.lock:
            self.drops.append(drop)
        return drop

    # ------------------------------------------------------------------------------------------
    # Inside D.

    def d_layers(self) -> list[int]:
        """Return the channel count of each of D's conv layers (what the layer and unit pickers offer)."""
        from dcgan.analysis.visualize import layer_output

        with self.lock:
            d = self.model.discriminator
            x = torch.zeros(1, self.model.channels, self.model.image_size, self.model.image_size)
            with torch.no_grad():
                return [int(layer_output(d, x, layer).shape[1]) for layer in range(len(d.blocks))]

    def visualize(self, layer: int, unit: int) -> Any:
        """Return :func:`dcgan.analysis.visualize` of one unit (top real images, guided back-propagation, random D beside)."""
        from dcgan.analysis import visualize

        key = ("visualize", layer, unit)
        with self.lock:
            if key not in self.memo:
                self.memo[key] = visualize(self.model, layer=layer, units=(unit,), top_k=8, num_images=self.visualize_images,
                                           pointing=False)
                self._trim_memo()
            return self.memo[key]

    def visualize_command(self, layer: int, unit: int) -> str:
        return f"dcgan visualize {self.ckpt} --layer {layer} --units {unit} --top-k 8 --num-images {self.visualize_images} --no-pointing"

    def _trim_memo(self, keep: int = 16) -> None:
        while len(self.memo) > keep:
            self.memo.popitem(last=False)

    def warm(self) -> None:
        """Decode and encode one image now, so the page's first request does not pay for lazy imports and first calls."""
        from dcgan.images import grid_tensor, to_pil

        to_pil(grid_tensor(self.images([0, 1]), nrow=2, padding=0)).save(io.BytesIO(), format="PNG")

    # ------------------------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """Return what the page needs to build itself: the model, the judge's factors, drop sets, D's layers, limits."""
        judge = None
        if self.judge is not None:
            loc = self.judge.localiser
            judge = {"path": str(self.judge.source), "factors": self.judge.value_names,
                     "localiser": list(loc.objects) if loc is not None else []}
        return {"model": self.model.describe(), "checkpoint": str(self.model.path), "bundled": self.bundled, "judge": judge,
                "drops": [d.describe(i) for i, d in enumerate(self.drops)], "d_layers": self.d_layers(),
                "limits": {"max_seed": MAX_SEED, "max_images": self.max_images, "max_steps": MAX_STEPS, "scale": SCALE_LIMIT}}
