"""Codes as users give them: seeds ('3,17,42') or rows of a ``projected.npz`` ('projected.npz:0,1,2').

``dcgan project`` writes the codes it found for real images into ``projected.npz``; every latent tool
takes them wherever it takes seeds. A reference is ``PATH.npz`` (every row) or ``PATH.npz:ROWS`` with ROWS
written like seeds ('0-3,7'). Parsing (:func:`parse_code_ref`) needs no torch, so settings validate
references as they validate seeds; reading (:func:`read_codes`) checks that the file's codes belong to the
model: same z size and prior, and the same checkpoint (a code reproduces its image only under the G it
was fitted to).

The file's keys (all plain arrays, read with ``allow_pickle=False``): ``codes`` (N, z_dim) float32,
``losses`` (N,), ``names`` (N,) text, and the model they belong to: ``z_dim``, ``z_dist``,
``checkpoint_digest``, ``checkpoint``, ``image_size``, ``channels``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dcgan.errors import UserError
from dcgan.seeds import parse_seeds, seed_text

CODES_FILE = "projected.npz"
_REF = re.compile(r"(?P<path>.+?\.npz)(?::(?P<rows>[\d\s,-]*))?", re.IGNORECASE)


@dataclass(frozen=True)
class CodeRef:
    """Rows of a codes file: ``path`` and the row indices (None: every row, in order)."""

    path: str
    rows: tuple[int, ...] | None = None

    def text(self) -> str:
        """Return the reference as a user writes it ('projected.npz:0-2')."""
        return self.path if self.rows is None else f"{self.path}:{seed_text(self.rows)}"


def looks_like_codes(value: Any) -> bool:
    """Return True when ``value`` is a reference to a codes file ('x.npz' or 'x.npz:0,1') rather than seeds or a query."""
    return isinstance(value, str | Path) and _REF.fullmatch(str(value).strip()) is not None


def parse_code_ref(value: str | Path) -> CodeRef:
    """Return the CodeRef of 'PATH.npz' or 'PATH.npz:ROWS' (rows like seeds: '0-3,7')."""
    match = _REF.fullmatch(str(value).strip())
    if match is None:
        raise UserError(f"cannot read codes {value!r}: give a file from dcgan project, 'projected.npz' or 'projected.npz:0,1,2'")
    rows = match["rows"]
    if rows is not None and not rows.strip():
        raise UserError(f"no rows after ':' in {value!r}: write 'projected.npz:0,1,2' or leave out ':' for every row")
    return CodeRef(match["path"], None if rows is None else tuple(parse_seeds(rows)))


@dataclass
class Codes:
    """Codes read for a model: (N, z_dim) float32 tensor, a label per code, and where they came from."""

    z: Any  # torch.Tensor (N, z_dim)
    labels: list[str]
    source: str  # the reference as given, or 'seeds 0-3'

    def to_dict(self) -> dict[str, Any]:
        return {"given": self.source, "labels": self.labels}


def read_codes(ref: CodeRef | str | Path, model: Any) -> Codes:
    """Return the rows of a codes file as codes for ``model`` (a :class:`dcgan.api.Model`), checked to belong to it."""
    import numpy as np
    import torch

    ref = ref if isinstance(ref, CodeRef) else parse_code_ref(ref)
    path = Path(ref.path).expanduser()
    if not path.is_file():
        raise UserError(f"codes file not found: {path} (dcgan project writes projected.npz into its output folder)")
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError) as exc:
        raise UserError(f"cannot read codes file {path}: not an .npz written by dcgan project ({exc})") from None
    if "codes" not in data or data["codes"].ndim != 2:
        raise UserError(f"{path} holds no codes: expected an (N, z_dim) array 'codes', as dcgan project writes")
    z = data["codes"]
    if z.shape[1] != model.z_dim or str(data.get("z_dist", model.z_dist)) != model.z_dist:
        raise UserError(f"{path} holds codes of z {z.shape[1]} ({data.get('z_dist', '?')}) but this checkpoint takes z {model.z_dim} "
                        f"({model.z_dist}): project the images with this checkpoint (dcgan project CKPT IMAGES)")
    digest, ours = str(data.get("checkpoint_digest", "")), model.describe().get("digest")
    if digest and ours and digest != ours:
        raise UserError(f"{path} was projected with another checkpoint ({data.get('checkpoint', '?')}); a code reproduces its image "
                        f"only under that G: project the images again with {model.path}")
    rows = list(range(len(z))) if ref.rows is None else list(ref.rows)
    if not rows:
        raise UserError(f"{path} holds no codes")
    bad = [r for r in rows if r >= len(z)]
    if bad:
        raise UserError(f"{path} has {len(z)} codes (rows 0-{len(z) - 1}); there is no row {bad[0]}")
    names = [str(n) for n in data["names"]] if "names" in data and len(data["names"]) == len(z) else [f"row {i}" for i in range(len(z))]
    return Codes(torch.as_tensor(np.asarray(z[rows], dtype=np.float32)), [f"{names[r]} (row {r})" for r in rows], ref.text())


def resolve_codes(value: Any, model: Any, what: str = "codes") -> Codes:
    """Return codes from seeds ('0-3', [1, 2]), a codes reference ('projected.npz:0,1') or an (N, z_dim) tensor."""
    import torch

    from dcgan.seeds import as_seeds

    if isinstance(value, Codes):
        return value
    if isinstance(value, CodeRef) or looks_like_codes(value):
        return read_codes(value if isinstance(value, CodeRef) else parse_code_ref(value), model)
    if isinstance(value, torch.Tensor):
        z = value.detach().float().cpu()
        if z.ndim == 1:
            z = z.unsqueeze(0)
        if z.ndim != 2 or z.shape[1] != model.z_dim:
            raise UserError(f"{what} must have shape (N, {model.z_dim}), not {tuple(value.shape)}")
        return Codes(z, [f"code {i}" for i in range(len(z))], f"{len(z)} code(s) given")
    seeds = as_seeds(value, what)
    return Codes(model.codes(seeds), [f"seed {s}" for s in seeds], f"seeds {seed_text(seeds)}")


def write_codes(path: Path, codes: Any, losses: Any, names: list[str], source: dict[str, Any], extra: dict[str, Any] | None = None) -> Path:
    """Write a codes file (see the module docstring) atomically; ``source`` is the model's ``describe()``; return its path."""
    import io

    import numpy as np

    from dcgan.checkpoint import atomic_write_bytes

    arrays = {"codes": np.asarray(codes, dtype=np.float32), "losses": np.asarray(losses, dtype=np.float32),
              "names": np.asarray(names, dtype=str), "z_dim": np.int64(source["z_dim"]), "z_dist": np.asarray(source["z_dist"]),
              "checkpoint": np.asarray(str(source["checkpoint"])), "checkpoint_digest": np.asarray(str(source.get("digest") or "")),
              "image_size": np.int64(source["image_size"]), "channels": np.int64(source["channels"])}
    arrays.update(extra or {})
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())
    return path
