"""Judge files: saved and checked exactly like checkpoints (dcgan.checkpoint.save_payload / load_payload).

A judge file holds the judge net's config and weights, its training report, and optionally a rooms
localiser and a realness net, as plain data and tensors only, under the tag 'dcgan-judge'.

Judge files written before realness nets existed (no 'realness' entry) still load: their realness is
unknown, so 'confident' means what it did then (every head above the threshold) and summaries report
``real_share`` as None with a hint to retrain. Adding the entry did not change the format version:
older dcgan versions ignore it.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from dcgan.checkpoint import JUDGE_FORMAT, load_payload, save_payload
from dcgan.errors import UserError
from dcgan.judges.judge import Judge, Localiser
from dcgan.judges.nets import JudgeConfig, JudgeNet, LocaliserConfig, LocaliserNet

FORMAT = JUDGE_FORMAT
VERSION = 1


def _cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _cpu(v) for k, v in obj.items()}
    return obj


def save_judge(path: str | Path, judge: Judge) -> Path:
    """Atomically save ``judge`` (its localiser and realness net too) as plain data and tensors; return the path."""
    payload: dict[str, Any] = {"config": asdict(judge.cfg), "weights": judge.net.state_dict(), "report": judge.report,
                               "localiser": None, "realness": None}
    if judge.localiser is not None:
        loc = judge.localiser
        payload["localiser"] = {"config": asdict(loc.cfg), "weights": loc.net.state_dict(), "report": loc.report}
    if judge.real_net is not None:
        payload["realness"] = {"config": asdict(judge.real_net.cfg), "weights": judge.real_net.state_dict()}
    return save_payload(path, _cpu(payload), FORMAT, VERSION)


def _tuples(raw: dict[str, Any], cls: type) -> Any:
    """Rebuild a config dataclass from its stored dict (lists back to tuples)."""
    fixed = {k: tuple(tuple(x) if isinstance(x, list) else x for x in v) if isinstance(v, list) else v for k, v in raw.items()}
    return cls(**fixed)


def _judge_net(stored: dict[str, Any]) -> JudgeNet:
    net = JudgeNet(_tuples(stored["config"], JudgeConfig))
    net.load_state_dict(stored["weights"])
    return net


def load_judge(path: str | Path, device: torch.device | str = "cpu") -> Judge:
    """Load and verify a judge file; every way it can be wrong becomes a one-line UserError saying what to do."""
    p = Path(path)
    payload = load_payload(p, FORMAT, VERSION, "judge", f"give a judge file, or train one with 'dcgan judge train --out {p}'")
    try:
        net = _judge_net(payload)
        realness = _judge_net(payload["realness"]) if payload.get("realness") else None
        localiser = None
        if payload.get("localiser"):
            loc = payload["localiser"]
            lnet = LocaliserNet(_tuples(loc["config"], LocaliserConfig))
            lnet.load_state_dict(loc["weights"])
            localiser = Localiser(lnet, loc.get("report"))
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise UserError(f"judge {p} does not fit this dcgan's judge network: {str(exc).splitlines()[0]}") from None
    return Judge(net, payload.get("report"), localiser, p, realness).to(device)
