"""Queries over judged factors ('window=2,wall=red', 'bed!=none', 'window=1|2') and finding the seeds whose samples match."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from dcgan.errors import UserError
from dcgan.judges.judge import CONFIDENT, Judge


@dataclass(frozen=True)
class Condition:
    """One clause of a query: ``factor`` is (or with ``negate``, is not) one of ``values``."""

    factor: str
    values: tuple[str, ...]
    negate: bool = False

    def __str__(self) -> str:
        return f"{self.factor}{'!=' if self.negate else '='}{'|'.join(self.values)}"


def parse_query(text: str) -> list[Condition]:
    """Parse 'factor=value[|value][,factor!=value...]' into conditions (checked against a judge by ``match``)."""
    conditions = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        m = re.fullmatch(r"([\w.-]+)\s*(!=|=)\s*([\w.-]+(?:\s*\|\s*[\w.-]+)*)", part)
        if not m:
            raise UserError(f"cannot read {part!r} in query {text!r}: use factor=value, factor!=value or factor=a|b, joined by commas")
        conditions.append(Condition(m[1], tuple(v.strip() for v in m[3].split("|")), m[2] == "!="))
    if not conditions:
        raise UserError(f"empty query {text!r}: give e.g. 'window=2,wall=red'")
    return conditions


def _value_index(judge: Judge, cond: Condition) -> list[int]:
    names = judge.value_names
    if cond.factor not in names:
        raise UserError(f"this judge has no factor {cond.factor!r}: it judges {', '.join(names)}")
    out = []
    for v in cond.values:
        if v in names[cond.factor]:
            out.append(names[cond.factor].index(v))
        else:
            raise UserError(f"{cond.factor} has no value {v!r}: use one of {', '.join(names[cond.factor])}")
    return out


def match(judge: Judge, query: Sequence[Condition] | str, probs: Mapping[str, torch.Tensor], min_prob: float = CONFIDENT,
          min_real: float | None = None) -> torch.Tensor:
    """Return (N,) bool: every condition holds with probability at least ``min_prob``.

    With ``min_real``, the image must also look like the data (realness at least that); a judge without
    a realness net cannot tell, so it then matches nothing rather than everything.
    """
    query = parse_query(query) if isinstance(query, str) else query
    ok = torch.ones(len(next(iter(probs.values()))), dtype=torch.bool)
    for cond in query:
        index = _value_index(judge, cond)
        p = probs[cond.factor][:, index].sum(1)
        ok &= (1.0 - p if cond.negate else p) >= min_prob
    if min_real is not None:
        _need_realness(judge)
        ok &= judge.real_of(probs) >= min_real
    return ok


def _need_realness(judge: Judge) -> None:
    if not judge.has_realness:
        raise UserError("this judge has no realness check (it was trained before they existed): retrain it "
                        "with 'dcgan judge train', or leave out the realness requirement")


def select_seeds(generator: nn.Module, model_cfg: Any, judge: Judge, query: Sequence[Condition] | str, count: int,
                 start_seed: int = 0, max_seeds: int = 20_000, min_prob: float = CONFIDENT, batch_size: int = 256,
                 strict: bool = True, min_real: float | None = None) -> list[int]:
    """Return the first ``count`` seeds from ``start_seed`` whose G(z) the judge finds matching ``query``.

    With ``strict`` a UserError says how many were found when fewer than ``count`` match within ``max_seeds``.
    ``min_real`` also requires that the samples look like the data (see ``match``).
    """
    from dcgan.latent import z_from_seeds
    from dcgan.sampling import generate

    query = parse_query(query) if isinstance(query, str) else query
    for cond in query:
        _value_index(judge, cond)
    if model_cfg.image_size != judge.image_size:
        judge.check(torch.zeros(1, model_cfg.channels, model_cfg.image_size, model_cfg.image_size, dtype=torch.uint8))
    if min_real is not None:
        _need_realness(judge)
    found: list[int] = []
    seed = start_seed
    while len(found) < count and seed < start_seed + max_seeds:
        seeds = list(range(seed, min(seed + batch_size, start_seed + max_seeds)))
        images = generate(generator, z_from_seeds(seeds, model_cfg.z_dim, model_cfg.z_dist))
        ok = match(judge, query, judge.predict(images), min_prob, min_real)
        found.extend(s for s, good in zip(seeds, ok.tolist(), strict=True) if good)
        seed = seeds[-1] + 1
    if strict and len(found) < count:
        q = ",".join(map(str, query))
        also = f" and realness >= {min_real}" if min_real is not None else ""
        raise UserError(f"only {len(found)} of seeds {start_seed}..{seed - 1} match '{q}' with probability >= {min_prob}{also}: "
                        "search more seeds (--max-seeds), lower --min-prob, or train the model longer")
    return found[:count]
