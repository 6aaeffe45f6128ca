"""Run folders (``runs/NNNNN-name/``) and what training writes into them, from rank 0 only."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from dcgan import distributed

METRICS = "metrics.jsonl"


def new_run_dir(out: str | Path, name: str) -> Path:
    """Create and return ``out/NNNNN-name`` with the next free number.

    A folder that cannot be made (a file in the way, no permission, a full disk) is a one-line UserError.
    """
    from dcgan.checkpoint import os_error_cause
    from dcgan.errors import UserError

    if not re.fullmatch(r"[\w.-]+", name):
        raise UserError(f"--name {name!r} may only hold letters, digits, '.', '_' and '-'")
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        numbers = [int(m[1]) for p in out.iterdir() if (m := re.match(r"(\d{5})-", p.name))]
    except OSError as exc:
        raise UserError(f"cannot create run folders in --out {out}: {os_error_cause(exc)}") from None
    while True:
        run_dir = out / f"{max(numbers, default=-1) + 1:05d}-{name}"
        try:
            run_dir.mkdir()
            return run_dir
        except FileExistsError:  # another process took the number: take the next one
            numbers.append(max(numbers, default=-1) + 1)
        except OSError as exc:
            raise UserError(f"cannot create the run folder {run_dir}: {os_error_cause(exc)}") from None


class RunLogger:
    """Writes log.txt, metrics.jsonl and TensorBoard events; silent on every rank but 0."""

    def __init__(self, run_dir: Path, tensorboard: bool = True) -> None:
        self.run_dir = run_dir
        self.enabled = distributed.is_main()
        self._tb = None
        if self.enabled and tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(run_dir / "tensorboard"))

    def info(self, message: str) -> None:
        """Print ``message`` above the progress bar and append it to log.txt."""
        if not self.enabled:
            return
        tqdm.write(message)
        with open(self.run_dir / "log.txt", "a") as f:
            f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")

    def metrics(self, step: int, values: dict[str, Any]) -> None:
        """Append one record to metrics.jsonl and the numeric values to TensorBoard."""
        if not self.enabled:
            return
        with open(self.run_dir / METRICS, "a") as f:
            f.write(json.dumps({"step": step, **values}) + "\n")
        if self._tb is not None:
            for key, value in values.items():
                if isinstance(value, int | float) and key not in ("epoch",):
                    self._tb.add_scalar(key, value, step)

    def image(self, tag: str, grid_chw_uint8: Any, step: int) -> None:
        """Add a (C, H, W) uint8 grid to TensorBoard."""
        if self.enabled and self._tb is not None:
            self._tb.add_image(tag, grid_chw_uint8, step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """Return every record of a run's metrics.jsonl (empty when there is none)."""
    path = run_dir / METRICS
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_loss_curves(run_dir: Path, path: Path | None = None) -> Path | None:
    """Draw losses and D outputs against step into ``loss_curves.png``; return the path (None without data)."""
    records = [r for r in read_metrics(run_dir) if "loss_d" in r]
    if not records:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in records]
    fig, (ax_loss, ax_d) = plt.subplots(1, 2, figsize=(11, 4))
    ax_loss.plot(steps, [r["loss_d"] for r in records], label="D loss")
    ax_loss.plot(steps, [r["loss_g"] for r in records], label="G loss")
    ax_loss.set(xlabel="step", ylabel="loss", title="losses")
    ax_loss.legend()
    ax_d.plot(steps, [r["d_real"] for r in records], label="D(x)")
    ax_d.plot(steps, [r["d_fake"] for r in records], label="D(G(z))")
    ax_d.set(xlabel="step", ylabel="probability 'real'", ylim=(0, 1), title="discriminator outputs")
    ax_d.legend()
    fig.tight_layout()
    path = path or run_dir / "loss_curves.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
