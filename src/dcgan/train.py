"""The training step and loop: data -> (D step, G step) -> metrics, sample grids, checkpoints; and resume.

The loop keeps the device busy: batches are sliced from uint8 tensors and normalised on the device,
z for step s is drawn from a generator seeded by (seed, s, rank) so no RNG state needs carrying,
and losses stay on the device until a logging step reads them back.

Nothing is written before every check has passed (settings, device, data, checkpoint, step count), so a
refused run or resume leaves the disk as it was. A run whose losses or weights stop being finite stops
before it writes them; a failed write stops the run with one line naming the last good checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import time
from contextlib import nullcontext, suppress
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from dcgan import distributed
from dcgan._alloc import allocator_settings_applied, apply_allocator_settings
from dcgan.checkpoint import (
    LATEST,
    atomic_write_bytes,
    load_checkpoint,
    os_error_cause,
    resolve_checkpoint,
    run_config,
    run_dir_of,
    save_checkpoint,
)
from dcgan.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from dcgan.data import BatchSampler, ImageData, load_data, to_unit_range
from dcgan.data.feed import BatchFeed
from dcgan.device import DTYPES, fast_gpu_math, resolve_device, resolve_precision
from dcgan.ema import GeneratorAverage
from dcgan.errors import UserError
from dcgan.graphs import CapturedStep, graph_ready
from dcgan.images import grid_tensor, save_grid
from dcgan.latent import sample_z, z_from_seeds
from dcgan.losses import generator_loss, loss_fake, loss_real
from dcgan.models import build_models
from dcgan.runs import RunLogger, new_run_dir, plot_loss_curves
from dcgan.sampling import generate

DEFAULT_EPOCHS = 5
STAT_NAMES = ("loss_d", "loss_g", "d_real", "d_fake", "d_fake_after")
RESUMABLE_FIELDS = {"epochs", "max_steps", "lr_decay", "device", "precision", "channels_last", "compile", "cuda_graphs", "log_every", "sample_every", "snapshot_every",
                    "eval_every", "eval_metric", "eval_extractor", "eval_samples", "early_stop"}
BEST = "best.pt"  # kept by the training-time evaluation (--eval-every)


def step_seed(seed: int, step: int, rank: int) -> int:
    """Return the seed of the z batch drawn at ``step`` on ``rank`` (a pure function, so resume is exact)."""
    return (seed * 0x9E3779B97F4A7C15 + step * 0xBF58476D1CE4E5B9 + rank * 0x94D049BB133111EB) % (2**63)


def learning_rate(cfg: TrainConfig, step: int, end: int) -> float:
    """Return the learning rate of ``step`` in a run ending at ``end``: constant, then (--lr-decay) linear to 0.

    A pure function of the step, so a resumed run follows the same schedule (for the same end). A step at or
    past the end (a caller driving ``Trainer.advance`` beyond it) keeps the last rate: constant, or 0 after a decay.
    """
    decay_steps = round(cfg.lr_decay * end)
    if decay_steps == 0 or step < end - decay_steps:
        return cfg.lr
    return cfg.lr * max(end - step, 0) / decay_steps


class GanStep:
    """One D update then ``g_steps`` G updates on a batch of uint8 images; returns nothing, accumulates statistics."""

    def __init__(self, g: nn.Module, d: nn.Module, cfg: TrainConfig, device: torch.device, precision: str, compile: bool = False,
                 capturable: bool = False) -> None:
        self.g_module, self.d_module = g, d  # the plain modules (for checkpoints and the no-sync G step)
        self.g, self.d = g, d
        if distributed.world_size() > 1:
            ids = [device.index] if device.type == "cuda" else None
            self.g = nn.parallel.DistributedDataParallel(g, device_ids=ids)
            self.d = nn.parallel.DistributedDataParallel(d, device_ids=ids)
        self.d_for_g = self.d_module  # G's step needs no D gradients, hence no D all-reduce
        if compile:
            self.g, self.d, self.d_for_g = torch.compile(self.g), torch.compile(self.d), torch.compile(self.d_for_g)
        self.device, self.precision = device, precision
        self.real_target = 1.0 - cfg.label_smoothing
        self.g_steps = cfg.g_steps
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        # On a GPU: fused Adam (one kernel per optimiser step); for a CUDA graph (dcgan.graphs) also
        # capturable, with the learning rate in a device tensor that set_lr fills in place.
        self.capturable = capturable
        gpu = {"fused": True, "capturable": capturable} if device.type == "cuda" else {}
        self.opt_g, self.opt_d = (
            torch.optim.Adam(net.parameters(), lr=torch.tensor(cfg.lr, device=device) if capturable else cfg.lr,
                             betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay, **gpu)
            for net in (g, d))
        self.lr = cfg.lr
        use_scaler = precision == "fp16"  # bf16 has fp32's range and needs no loss scaling
        self.scaler_g = torch.amp.GradScaler(device.type, enabled=use_scaler)
        self.scaler_d = torch.amp.GradScaler(device.type, enabled=use_scaler)
        self.stats = torch.zeros(len(STAT_NAMES), device=device)
        self.count = 0

    def set_lr(self, lr: float) -> None:
        """Set the learning rate of both optimisers (in place when it lives in a device tensor)."""
        if lr == self.lr:
            return
        self.lr = lr
        for opt in (self.opt_g, self.opt_d):
            for group in opt.param_groups:
                if isinstance(group["lr"], torch.Tensor):
                    group["lr"].fill_(lr)
                else:
                    group["lr"] = lr

    def autocast(self):
        """Return the mixed-precision context of this step (a no-op for fp32)."""
        if self.precision == "fp32":
            return nullcontext()
        # A captured step cannot keep autocast's cache of cast weights (it would hold stale copies).
        return torch.autocast(self.device.type, dtype=DTYPES[self.precision], cache_enabled=not self.capturable)

    def __call__(self, real_uint8: torch.Tensor, z: torch.Tensor, labels: torch.Tensor | None = None) -> None:
        self.device_step(real_uint8, z, labels)
        self.count += 1

    def device_step(self, real_uint8: torch.Tensor, z: torch.Tensor, labels: torch.Tensor | None = None) -> None:
        """Queue one step's work on the device (no host sync; what dcgan.graphs captures).

        ``labels`` (B,): the real images' classes for a conditional model; G draws the same classes, as in
        the paper's official MNIST code, so D judges each image with its label.
        """
        cond = {} if labels is None else {"labels": labels}
        real = to_unit_range(real_uint8.to(self.device, non_blocking=True)).contiguous(memory_format=self.memory_format)
        # D step: real and generated images in separate batches, as in the paper's code, so that
        # BatchNorm never mixes their statistics. Two backward passes let DDP skip one all-reduce.
        self.opt_d.zero_grad(set_to_none=True)
        with self.autocast():
            fake = self.g(z, **cond)
        no_sync = self.d.no_sync() if isinstance(self.d, nn.parallel.DistributedDataParallel) else nullcontext()
        with no_sync:
            with self.autocast():
                real_logits = self.d(real, **cond)
            d_loss_real = loss_real(real_logits, self.real_target)
            self.scaler_d.scale(d_loss_real).backward()
        with self.autocast():
            fake_logits = self.d(fake.detach(), **cond)
        d_loss_fake = loss_fake(fake_logits)
        self.scaler_d.scale(d_loss_fake).backward()
        self.scaler_d.step(self.opt_d)
        self.scaler_d.update()
        # G steps: D's weights are frozen, so backward computes only the gradients G needs. The first
        # reuses the D step's fakes; later ones (--g-steps) regenerate them from the same z.
        self.d_module.requires_grad_(False)
        for g_step in range(self.g_steps):
            self.opt_g.zero_grad(set_to_none=True)
            with self.autocast():
                if g_step:
                    fake = self.g(z, **cond)
                gen_logits = self.d_for_g(fake, **cond)
            loss_g = generator_loss(gen_logits)
            self.scaler_g.scale(loss_g).backward()
            self.scaler_g.step(self.opt_g)
            self.scaler_g.update()
        self.d_module.requires_grad_(True)
        with torch.no_grad():
            self.stats += torch.stack([
                (d_loss_real + d_loss_fake).detach(), loss_g.detach(),
                torch.sigmoid(real_logits.float()).mean(), torch.sigmoid(fake_logits.float()).mean(),
                torch.sigmoid(gen_logits.float()).mean(),
            ])

    def read_stats(self) -> dict[str, float]:
        """Return the mean of each statistic since the last read (this is the only host sync), and reset."""
        means = distributed.all_reduce_mean(self.stats / max(self.count, 1)).tolist()
        self.stats.zero_()
        self.count = 0
        return dict(zip(STAT_NAMES, means, strict=True))

    def state_dict(self) -> dict[str, Any]:
        """Return optimiser and scaler states."""
        return {"opt_g": plain_lr(self.opt_g.state_dict()), "opt_d": plain_lr(self.opt_d.state_dict()),
                "scaler_g": self.scaler_g.state_dict(), "scaler_d": self.scaler_d.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore optimiser states (and scaler states when both runs used one)."""
        try:
            self.opt_g.load_state_dict(state["opt_g"])
            self.opt_d.load_state_dict(state["opt_d"])
        except (ValueError, KeyError) as exc:
            raise UserError(f"checkpoint optimiser state does not fit the model: {exc}") from None
        self.lr = self.opt_g.param_groups[0]["lr"]
        if self.capturable:  # loading put plain floats in; a captured step reads its rate from a device tensor
            for opt in (self.opt_g, self.opt_d):
                for group in opt.param_groups:
                    group["lr"] = torch.tensor(float(group["lr"]), device=self.device)
        for name, scaler in (("scaler_g", self.scaler_g), ("scaler_d", self.scaler_d)):
            if scaler.is_enabled() and state.get(name):
                scaler.load_state_dict(state[name])


def plain_lr(state: dict[str, Any]) -> dict[str, Any]:
    """Return an optimiser state dict with its learning rates as floats, so a checkpoint loads on any device."""
    for group in state["param_groups"]:
        if isinstance(group.get("lr"), torch.Tensor):
            group["lr"] = float(group["lr"])
    return state


def rng_states() -> dict[str, Any]:
    """Return every global RNG state as plain data and tensors (safe to store in a checkpoint)."""
    version, internal, gauss = random.getstate()
    np_state = np.random.get_state()
    states: dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    """Restore what ``rng_states`` returned."""
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, *rest = states["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states["cuda"])


def total_steps(cfg: TrainConfig, steps_per_epoch: int) -> int:
    """Return the step count the run ends at."""
    if cfg.max_steps is not None:
        return cfg.max_steps
    return (cfg.epochs or DEFAULT_EPOCHS) * steps_per_epoch


class Diverged(UserError):
    """Losses or weights stopped being finite: the run stops before writing them over a good checkpoint."""


class Trainer:
    """Owns the nets, the step, the data order and the run folder of one training run.

    Building one checks everything and writes nothing (``run_dir`` may be set later), so that a refused
    run or resume leaves the disk untouched; ``run`` opens the logs.
    """

    def __init__(self, cfg: RunConfig, run_dir: Path | None, data: ImageData, payload: dict[str, Any] | None = None) -> None:
        self.cfg, self.run_dir, self.data = cfg, run_dir, data
        self.device = resolve_device(cfg.train.device)
        self.precision = resolve_precision(cfg.train.precision, self.device)
        fast_gpu_math(self.device)
        self.log: RunLogger | None = None  # opened by run(), after every check
        self.notes: list[str] = []  # said once the log is open
        self.last_good: tuple[Path, int] | None = None  # the newest checkpoint known to hold finite weights, and its step
        self.g, self.d = build_models(cfg.model, seed=cfg.train.seed)
        memory_format = torch.channels_last if cfg.train.channels_last else torch.contiguous_format
        self.g.to(self.device, memory_format=memory_format)
        self.d.to(self.device, memory_format=memory_format)
        graphs, why_not = graph_ready(self.device, self.precision, distributed.world_size(), cfg.train.compile, cfg.model.conditional)
        graphs = graphs and cfg.train.cuda_graphs
        self.step_fn = GanStep(self.g, self.d, cfg.train, self.device, self.precision, cfg.train.compile, capturable=graphs)
        if graphs:
            self.step_fn = CapturedStep(self.step_fn)
        elif self.device.type == "cuda":
            self.notes.append(f"CUDA graphs off: {why_not or '--no-cuda-graphs'}")
        # The average is only read by rank 0 (grids, evaluation, checkpoints), so only rank 0 keeps it.
        self.average = GeneratorAverage(self.g, cfg.train.ema, cfg.train.batch_size) if cfg.train.ema and distributed.is_main() else None
        self.sampler = BatchSampler(len(data), cfg.train.batch_size, cfg.train.seed, distributed.rank(), distributed.world_size())
        self.feed = BatchFeed(data.images, self.sampler, self.device)
        self.labels = condition_labels(data, cfg.model) if cfg.model.conditional else None  # (N,) int64 on the host
        self.noise = torch.Generator(device=self.device)
        self.fixed_z = z_from_seeds(range(cfg.train.num_fixed_samples), cfg.model.z_dim, cfg.model.z_dist)
        self.step = 0
        self.evaluator = None  # scores fixed samples on schedule (dcgan.metrics.tracking); rank 0 only
        if cfg.train.eval_every and distributed.is_main():
            from dcgan.metrics.tracking import TrainingEval

            self.evaluator = TrainingEval(cfg, data, self.device)
        if payload is not None:
            self._restore(payload)
        self.end = total_steps(cfg.train, self.sampler.steps_per_epoch)
        if self.step >= self.end:
            raise UserError(f"this run already reached step {self.step} (end {self.end}): pass a larger --max-steps or --epochs to continue")

    def _restore(self, payload: dict[str, Any]) -> None:
        for module, key in ((self.g, "generator"), (self.d, "discriminator")):
            try:
                module.load_state_dict(payload[key])
            except RuntimeError as exc:
                raise UserError(f"checkpoint {key} does not fit the model: {(str(exc).splitlines() or [type(exc).__name__])[0]}") from None
        self.step_fn.load_state_dict(payload["optim"])
        if self.average is not None and payload.get("generator_ema"):
            self.average.load_state_dict(payload["generator_ema"])
        set_rng_states(payload["rng"])
        self.fixed_z = payload["fixed_z"]
        self.step = int(payload["step"])
        if self.evaluator is not None and payload.get("eval") and not self.evaluator.load_state_dict(payload["eval"]):
            self.notes.append("evaluation settings differ from the checkpoint's: the best-metric record starts afresh")

    @property
    def epoch(self) -> int:
        """Return the number of completed epochs."""
        return self.step // self.sampler.steps_per_epoch

    def payload(self) -> dict[str, Any]:
        """Return everything needed to rebuild the nets and continue this run exactly."""
        return {
            "config": self.cfg.to_dict(), "generator": self.g.state_dict(), "discriminator": self.d.state_dict(),
            "generator_ema": self.average.state_dict() if self.average is not None else None,
            "optim": self.step_fn.state_dict(), "step": self.step, "epoch": self.epoch,
            "steps_per_epoch": self.sampler.steps_per_epoch, "world_size": distributed.world_size(), "rng": rng_states(), "fixed_z": self.fixed_z,
            "precision": self.precision, "eval": self.evaluator.state_dict() if self.evaluator is not None else None,
        }

    def last_good_text(self) -> str:
        """Name the checkpoint a failed or diverged run can continue from."""
        if self.last_good is None:
            return "no checkpoint of this run was written yet"
        path, step = self.last_good
        return f"the last good checkpoint is {path} (step {step})"

    def check_finite(self) -> None:
        """Raise Diverged when the losses since the last read or any weight is NaN or infinite (before any write)."""
        nets = [("G", self.g), ("D", self.d)] + ([("averaged G", self.average.generator)] if self.average is not None else [])
        bad = [name for name, net in nets if not all(bool(torch.isfinite(t).all()) for t in net.state_dict().values() if t.is_floating_point())]
        if bad or not bool(torch.isfinite(self.step_fn.stats).all()):
            self.diverged(f"{' and '.join(bad) + ' weights' if bad else 'the losses'} became NaN or infinite")

    def diverged(self, what: str) -> None:
        """Stop the run: say where it diverged, what is kept and how to go on."""
        raise Diverged(f"training diverged by step {self.step}: {what}; nothing was saved over it, {self.last_good_text()}: "
                       f"continue with --resume {self.run_dir} (e.g. with --precision fp32), or start a new run with a lower --lr")

    def save(self, *names: str) -> None:
        """Write the checkpoint under each of ``names`` in checkpoints/ (rank 0 only), if its weights are finite."""
        self.check_finite()
        if distributed.is_main():
            payload = self.payload()
            for name in names:
                path = self.run_dir / "checkpoints" / name
                try:
                    save_checkpoint(path, payload)
                except UserError as exc:
                    raise UserError(f"training stopped at step {self.step}: {exc}; {self.last_good_text()}") from None
                if name == LATEST:
                    self.last_good = (path, self.step)

    def sampling_generator(self) -> nn.Module:
        """Return the G that samples and tools use: the weight average with --ema, else G."""
        return self.average.calibrated() if self.average is not None else self.g

    def write_samples(self, tag: str) -> Path | None:
        """Save the fixed-seed grid as samples/<tag>.png (G in eval mode, as every sampling tool uses it)."""
        if not distributed.is_main():
            return None
        images = generate(self.sampling_generator(), self.fixed_z.to(self.device))
        path = save_grid(images, self.run_dir / "samples" / f"{tag}.png")
        self.log.image("samples", grid_tensor(images), self.step)
        return path

    def describe(self, end: int) -> None:
        cfg, n = self.cfg, lambda m: sum(p.numel() for p in m.parameters())
        self.log.info(f"run folder {self.run_dir}")
        self.log.info(f"data: {self.data.description}" + (f"; skipped {self.data.skipped} unreadable images" if self.data.skipped else ""))
        self.log.info(
            f"model: {cfg.model.image_size}x{cfg.model.image_size}x{cfg.model.channels}, z {cfg.model.z_dim} ({cfg.model.z_dist}), "
            f"G {n(self.g) / 1e6:.2f}M params, D {n(self.d) / 1e6:.2f}M params, kernel {cfg.model.kernel_size}"
        )
        self.log.info(
            f"training: {end} steps ({self.sampler.steps_per_epoch} per epoch), batch {cfg.train.batch_size} x {distributed.world_size()} "
            f"process(es), device {self.device}, precision {self.precision}, channels-last {cfg.train.channels_last}, "
            f"compile {cfg.train.compile}, CUDA graphs {isinstance(self.step_fn, CapturedStep)}, allocator fix {allocator_settings_applied()}"
        )
        self.log.info(f"batches: {self.feed.placement}")
        self.log.info(f"optimiser: Adam lr {cfg.train.lr} betas ({cfg.train.beta1}, {cfg.train.beta2})"
                      + (f", linear decay to 0 over the last {cfg.train.lr_decay:.0%} of steps" if cfg.train.lr_decay else "")
                      + (f", weight decay {cfg.train.weight_decay:g}" if cfg.train.weight_decay else "")
                      + (f"; {cfg.train.g_steps} G updates per D update" if cfg.train.g_steps > 1 else "")
                      + (f"; D's real target {1 - cfg.train.label_smoothing:g}" if cfg.train.label_smoothing else "")
                      + (f"; samples from a moving average of G (decay {cfg.train.ema})" if cfg.train.ema else ""))
        if self.evaluator is not None:
            self.log.info(f"{self.evaluator.describe()}, every {cfg.train.eval_every} steps")

    def run(self) -> Path:
        """Train until the configured end; on Ctrl-C save latest.pt first. Return the run folder.

        A failed write (disk full, folder gone) or a divergence stops the run with a UserError that names
        the last good checkpoint.
        """
        if self.run_dir is None:
            raise ValueError("Trainer.run needs a run folder")
        self.run_dir = Path(self.run_dir)
        try:
            return self._run()
        except OSError as exc:
            where = exc.filename or self.run_dir
            message = f"training stopped at step {self.step}: cannot write {where}: {os_error_cause(exc)}; {self.last_good_text()}"
            self._try_log(message)
            raise UserError(message) from None
        except UserError as exc:
            self._try_log(f"stopped: {exc}")
            raise
        finally:
            if self.log is not None:
                with suppress(OSError):
                    self.log.close()

    def _try_log(self, message: str) -> None:
        """Append ``message`` to log.txt if the disk still takes it (it is also the error the user sees)."""
        if self.log is not None:
            with suppress(OSError), open(self.run_dir / "log.txt", "a") as f:
                f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")

    def _run(self) -> Path:
        cfg = self.cfg.train
        end = self.end
        self.log = RunLogger(self.run_dir)
        self.describe(end)
        for note in self.notes:
            self.log.info(note)
        self.g.train()
        self.d.train()
        bar = tqdm(total=end, initial=self.step, disable=not distributed.is_main(), unit="step", dynamic_ncols=True)
        tick, tick_step = time.perf_counter(), self.step
        try:
            while self.step < end:
                lr = self.advance()
                bar.update()
                epoch_done = self.step % self.sampler.steps_per_epoch == 0
                if self.step % cfg.log_every == 0 or epoch_done or self.step == end:
                    stats = self.step_fn.read_stats()
                    bad = [k for k, v in stats.items() if not math.isfinite(v)]
                    if bad:
                        self.diverged(f"{', '.join(f'{k} {stats[k]}' for k in bad)} (mean of the last {cfg.log_every} steps or fewer)")
                    now = time.perf_counter()
                    rate = (self.step - tick_step) * cfg.batch_size * distributed.world_size() / max(now - tick, 1e-9)
                    tick, tick_step = now, self.step
                    epoch_float = self.step / self.sampler.steps_per_epoch
                    self.log.metrics(self.step, {"epoch": round(epoch_float, 4), **{k: round(v, 5) for k, v in stats.items()}, "lr": lr, "images_per_sec": round(rate, 1)})
                    bar.set_postfix_str(f"ep {epoch_float:.2f} D {stats['loss_d']:.3f} G {stats['loss_g']:.3f} D(x) {stats['d_real']:.2f} D(G(z)) {stats['d_fake']:.2f} {rate:.0f} img/s")
                due_eval = bool(cfg.eval_every) and (self.step % cfg.eval_every == 0 or self.step == end)
                if due_eval or epoch_done or self.step == end:
                    self.check_finite()  # before evaluating, drawing or saving anything of these weights
                stop = self._evaluate(bar) if due_eval else False
                if epoch_done or self.step == end or stop:
                    self._end_of_period(epoch_done, end)
                if stop:
                    break
        except KeyboardInterrupt:
            bar.close()
            try:
                self.save(LATEST)
            except Diverged:
                self.log.info(f"interrupted at step {self.step}: its weights are not finite, so nothing was saved; {self.last_good_text()}")
                raise KeyboardInterrupt from None
            self.log.info(f"interrupted at step {self.step}: saved {self.run_dir / 'checkpoints' / LATEST}; continue with --resume {self.run_dir}")
            raise
        finally:
            bar.close()
        self.log.info(f"done: {self.step} steps; samples in {self.run_dir / 'samples'}, checkpoint {self.run_dir / 'checkpoints' / LATEST}")
        return self.run_dir

    def advance(self) -> float:
        """Queue one training step (batch, codes, learning rate, D and G updates, the average); return its rate.

        Nothing here waits for the device, so on a GPU the host runs ahead and keeps it busy.
        """
        cfg = self.cfg.train
        batch = self.feed(self.step)
        labels = None if self.labels is None else self.labels[self.sampler.indices(self.step)].to(self.device, non_blocking=True)
        self.noise.manual_seed(step_seed(cfg.seed, self.step, distributed.rank()))
        z = sample_z(cfg.batch_size, self.cfg.model.z_dim, self.cfg.model.z_dist, self.noise, self.device)
        lr = learning_rate(cfg, self.step, self.end)
        self.step_fn.set_lr(lr)
        self.step_fn(batch, z, labels)
        if self.average is not None:
            self.average.update(self.g)
        self.step += 1
        return lr

    def _evaluate(self, bar: tqdm) -> bool:
        """Score G's fixed evaluation samples, keep best.pt, warn; return True (on every rank) to stop early."""
        stop = False
        if self.evaluator is not None:
            decision, record = self.evaluator(self.sampling_generator(), self.step)
            self.log.metrics(self.step, {"epoch": round(self.step / self.sampler.steps_per_epoch, 4), **record})
            if decision.improved:
                self.save(BEST)
            self.log.info(f"eval step {self.step}: {record['eval_metric']} {decision.value:.4g}"
                          + (f", new best: saved {BEST}" if decision.improved else f" (best {record['eval_best']:.4g} at step {record['eval_best_step']})"))
            if decision.warning:
                self.log.info(f"WARNING: {decision.warning}")
            bar.set_description(f"{record['eval_metric']} worsening x{decision.streak}" if decision.warning else None)
            if decision.stop:
                self.log.info(f"early stop (--early-stop {self.cfg.train.early_stop}): best model at step {record['eval_best_step']} in {self.run_dir / 'checkpoints' / BEST}")
            stop = decision.stop
        return bool(distributed.broadcast_object(stop))

    def _end_of_period(self, epoch_done: bool, end: int) -> None:
        """Epoch end (or run end): sample grid, loss curves, checkpoints."""
        cfg = self.cfg.train
        epoch = self.epoch
        names = [LATEST]
        if epoch_done and epoch % cfg.snapshot_every == 0:
            names.append(f"epoch-{epoch:04d}.pt")
        if not epoch_done:
            names.append(f"step-{self.step:08d}.pt")
        if epoch_done and epoch % cfg.sample_every == 0:
            self.write_samples(f"epoch-{epoch:04d}")
        elif not epoch_done or self.step == end:
            self.write_samples(f"step-{self.step:08d}")
        if distributed.is_main():
            plot_loss_curves(self.run_dir)
        self.save(*names)
        self.log.info(f"epoch {self.step / self.sampler.steps_per_epoch:.2f} (step {self.step}): saved {', '.join(names)}")
        distributed.barrier()


def prepare(cfg: RunConfig) -> tuple[RunConfig, ImageData]:
    """Load the data and fix the model's channels and size (and a conditional model's classes) to match it."""
    data = load_data(cfg.data, seed=cfg.train.seed)
    classes = 0
    if cfg.model.conditional:  # the class count comes from the label names, else from the largest label
        classes = len(data.label_names.get("label") or []) or int(condition_labels(data, cfg.model).max()) + 1
    model = dataclasses.replace(cfg.model, image_size=cfg.data.image_size, channels=data.channels, num_classes=classes)
    return dataclasses.replace(cfg, model=model), data


def condition_labels(data: ImageData, model: ModelConfig) -> torch.Tensor:
    """Return the (N,) class labels a conditional model trains on (the data's ``label`` factor), or raise a UserError."""
    if "label" not in data.labels:
        have = f"it has only {', '.join(sorted(data.labels))}" if data.labels else "it has none"
        raise UserError(f"--conditional needs class labels ('label') in the data: {have} (use e.g. mnist, an .npz with y_train, "
                        "or an image folder with one subfolder per class)")
    labels = data.labels["label"]
    if model.num_classes and (int(labels.min()) < 0 or int(labels.max()) >= model.num_classes):
        raise UserError(f"the data's labels run from {int(labels.min())} to {int(labels.max())} but this conditional model has "
                        f"{model.num_classes} classes")
    return labels


def train(cfg: RunConfig) -> Path:
    """Start a new run from ``cfg``; return its folder."""
    apply_allocator_settings()  # a training process is the toolkit's own (see _alloc.py)
    device = resolve_device(cfg.train.device)
    distributed.setup(device)
    cfg, data = prepare(cfg)
    trainer = Trainer(cfg, None, data)  # every check before the run folder exists

    def create() -> Path:
        run_dir = new_run_dir(cfg.train.out, cfg.train.name)
        write_config(run_dir, cfg)
        return run_dir

    trainer.run_dir = Path(on_main(create))
    return trainer.run()


def check_world_size(payload: dict[str, Any], batch_size: int, path: str | Path) -> None:
    """Refuse to resume with another number of processes than the run was trained by.

    Exact resume is the promise: each step's images, noise (seeded per rank) and BatchNorm statistics
    (per process) depend on the number of processes, so a run continues only with the number it had.
    Checkpoints written before the number was stored have no ``world_size`` and are not checked here.
    """
    trained_by, now = payload.get("world_size"), distributed.world_size()
    if trained_by is None or int(trained_by) == now:
        return
    trained_by = int(trained_by)
    raise UserError(f"this run was trained by {trained_by} process{'es' if trained_by > 1 else ''} (batch {batch_size} each), now {now}: resume with "
                    f"'torchrun --standalone --nproc_per_node {trained_by} -m dcgan.cli train --resume {path}', or start a new run "
                    f"(an exact resume needs the same number of processes)")


def resume(path: str | Path, train_overrides: dict[str, Any] | None = None, fixed: dict[str, Any] | None = None) -> Path:
    """Continue the run a checkpoint (or run folder) belongs to, in its folder.

    ``train_overrides`` may change when and how the run continues (its length, device, precision);
    ``fixed`` holds settings the user also gave, which must match the checkpoint's.
    """
    apply_allocator_settings()  # before the checkpoint's tensors exist (see _alloc.py)
    payload = load_checkpoint(path)
    cfg = run_config(payload)
    for key, value in (fixed or {}).items():
        section, name = key.split(".")
        stored = getattr(getattr(cfg, section), name)
        if stored is not None and value != stored:
            raise UserError(f"--{name.replace('_', '-')} {value} differs from the checkpoint's {stored}: a resumed run keeps its data and model settings")
    unknown = set(train_overrides or {}) - RESUMABLE_FIELDS
    if unknown:
        raise UserError(f"cannot change {', '.join(sorted(unknown))} when resuming")
    train_cfg = dataclasses.replace(cfg.train, **(train_overrides or {}))
    if "max_steps" not in (train_overrides or {}) and "epochs" in (train_overrides or {}):
        train_cfg = dataclasses.replace(train_cfg, max_steps=None)
    cfg = dataclasses.replace(cfg, train=train_cfg)
    device = resolve_device(cfg.train.device)
    distributed.setup(device)
    check_world_size(payload, cfg.train.batch_size, path)
    data = load_data(cfg.data, seed=cfg.train.seed)
    if data.channels != cfg.model.channels or len(data) // (cfg.train.batch_size * distributed.world_size()) != payload["steps_per_epoch"]:
        maybe = "" if "world_size" in payload else " (or it was trained by another number of processes: resume with the torchrun --nproc_per_node it was trained with)"
        raise UserError(f"the data at {cfg.data.spec!r} changed since the checkpoint was written{maybe}; a resumed run needs the same data")
    source = resolve_checkpoint(path)
    run_dir = run_dir_of(source)
    trainer = Trainer(cfg, run_dir, data, payload)  # refuses a finished run, a CPU fp16, weights that do not fit
    trainer.last_good = (source, trainer.step)
    on_main(lambda: write_config(run_dir, cfg))
    return trainer.run()


def on_main(fn: Any) -> Any:
    """Return rank 0's ``fn()`` on every rank; a UserError there is raised on every rank (none waits forever)."""
    outcome = None
    if distributed.is_main():
        try:
            outcome = (True, fn())
        except UserError as exc:
            outcome = (False, str(exc))
    ok, value = distributed.broadcast_object(outcome)
    if not ok:
        raise UserError(value)
    return value


def write_config(run_dir: Path, cfg: RunConfig) -> None:
    """Write the run's config.json atomically (a failed write is a one-line UserError)."""
    path = Path(run_dir) / "config.json"
    try:
        atomic_write_bytes(path, (json.dumps(cfg.to_dict(), indent=2) + "\n").encode())
    except OSError as exc:
        raise UserError(f"cannot write {path}: {os_error_cause(exc)}") from None



def resume_or_train(given: dict[str, dict[str, Any]], resume_from: str | Path | None = None) -> Path:
    """Start a run from the settings a user gave ({section: {field: value}}), or resume one; return its folder.

    On resume, training settings may change (length, device, precision); data and model settings, when
    given, must match the checkpoint's.
    """
    if resume_from:
        fixed = {f"{section}.{name}": v for section in ("data", "model") for name, v in given.get(section, {}).items()}
        return resume(resume_from, dict(given.get("train", {})), fixed)
    sections = {name: dict(given.get(name, {})) for name in ("data", "model", "train")}
    if "image_size" in sections["data"]:
        sections["model"]["image_size"] = sections["data"]["image_size"]
    return train(RunConfig(DataConfig(**sections["data"]), ModelConfig(**sections["model"]), TrainConfig(**sections["train"])))
