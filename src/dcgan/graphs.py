"""Replay the training step as one CUDA graph: a 64x64 DCGAN step is a few milliseconds of GPU work spread
over hundreds of small kernels, so on a GPU the time goes to launching them, not to running them.

``CapturedStep`` wraps a ``GanStep``: its first calls run eagerly on a side stream (cuDNN picks its
algorithms and the optimisers create their state, which a capture cannot do), then one call captures the
whole step (forward, backward, fused Adam, BatchNorm updates and the loss statistics) into a graph, and
every later call copies the step's batch and codes into the graph's static inputs and replays it. Every
call performs exactly one training step, so the step count, the data order and resume are unchanged.

Capture needs what a graph can replay: optimisers with ``capturable=True`` and a learning rate held in a
device tensor (``GanStep`` builds them so when asked), no loss scaler (fp16's GradScaler reads its
overflow flag on the host), autocast without its weight cache, and one process (DDP's bucketed
all-reduce is left out of graphs here). ``graph_ready`` says which of these a run meets.

PyTorch gives the capture (``torch.cuda.CUDAGraph``); this module only decides when to warm up,
capture and replay.
"""

from __future__ import annotations

import torch

WARMUP_CALLS = 3  # eager steps before the capture (the capture guide's recommendation for cuDNN and optimiser state)


def graph_ready(device: torch.device, precision: str, world_size: int, compile: bool, conditional: bool = False) -> tuple[bool, str]:
    """Return whether the step can be captured, and why not when it cannot (for the run log)."""
    if device.type != "cuda":
        return False, "CUDA graphs need a GPU"
    if precision == "fp16":
        return False, "fp16's loss scaler reads its overflow flag on the host each step (use bf16 or fp32 for graphs)"
    if world_size > 1:
        return False, "graphs are not used with several processes (DDP)"
    if compile:
        return False, "--compile chooses its own graphs"
    if conditional:
        return False, "a conditional model's step takes labels, which the captured step does not"
    return True, ""


class CapturedStep:
    """Call like the ``GanStep`` it wraps, ``step(real_uint8, z)``; warm-up, then capture, then replay."""

    def __init__(self, step, warmup_calls: int = WARMUP_CALLS) -> None:
        self.step = step
        self.warmup_calls = warmup_calls
        self.calls = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static_real: torch.Tensor | None = None
        self.static_z: torch.Tensor | None = None

    def __getattr__(self, name: str):
        return getattr(self.step, name)  # set_lr, read_stats, state_dict, ... belong to the step

    def __call__(self, real_uint8: torch.Tensor, z: torch.Tensor, labels: torch.Tensor | None = None) -> None:
        if labels is not None:
            raise ValueError("a captured step takes no labels (graph_ready refuses conditional models)")
        device = self.step.device
        if self.static_real is None:
            self.static_real = torch.empty_like(real_uint8, device=device)
            self.static_z = torch.empty_like(z, device=device)
        if real_uint8.shape != self.static_real.shape or z.shape != self.static_z.shape:
            raise ValueError(f"a captured step takes batches of one shape: {tuple(self.static_real.shape)}, not {tuple(real_uint8.shape)}")
        self.static_real.copy_(real_uint8, non_blocking=True)
        self.static_z.copy_(z, non_blocking=True)
        if self.graph is not None:
            self.graph.replay()
        elif self.calls < self.warmup_calls:
            side = torch.cuda.Stream(device)
            side.wait_stream(torch.cuda.current_stream(device))
            with torch.cuda.stream(side):
                self.step.device_step(self.static_real, self.static_z)
            torch.cuda.current_stream(device).wait_stream(side)
        else:
            graph = torch.cuda.CUDAGraph()
            self.step.opt_g.zero_grad(set_to_none=True)
            self.step.opt_d.zero_grad(set_to_none=True)
            with torch.cuda.graph(graph):
                self.step.device_step(self.static_real, self.static_z)
            self.graph = graph
            graph.replay()  # the capture recorded the step without running it
        self.step.count += 1
        self.calls += 1
