"""Each training step's uint8 batch, already on the training device, chosen by where the data set can live.

- CPU: a gather from the in-memory (or memory-mapped) tensor, as ``BatchSampler`` always did.
- GPU, when the data set fits (it takes at most ``GPU_SHARE`` of the free memory; a 64x64 CelebA-size
  set is about 2.4 GB): the whole set is copied to the GPU once as uint8, each epoch's order is copied
  once, and a batch is an index gather on the device. No host-to-device copy and no host sync per step.
- GPU, otherwise: the next step's batch is gathered on the host into pinned memory and copied on a side
  stream while the current step runs (two buffers, ordered by CUDA events).

Every path returns the same images for the same step, so the data order (and resume) does not depend on it.
"""

from __future__ import annotations

import torch

from dcgan.data.batches import BatchSampler

GPU_SHARE = 0.5  # of the free GPU memory, at most, for a resident data set; the rest is for the nets and the step


def fits_on_gpu(nbytes: int, device: torch.device) -> bool:
    """Return True when a data set of ``nbytes`` can live on ``device`` beside training."""
    free, _total = torch.cuda.mem_get_info(device)
    return nbytes <= GPU_SHARE * free


class BatchFeed:
    """``feed(step)`` returns that step's (B, C, H, W) uint8 batch on ``device``; ``placement`` says how."""

    def __init__(self, images: torch.Tensor, sampler: BatchSampler, device: torch.device, resident: bool | None = None) -> None:
        """``resident`` None chooses by memory on a GPU; True forces the device-gather path (tests run it on a CPU)."""
        self.images, self.sampler, self.device = images, sampler, device
        nbytes = images.numel() * images.element_size()
        if resident is None:
            resident = device.type == "cuda" and fits_on_gpu(nbytes, device)
        self.resident = resident
        if resident:
            self.images = images.to(device)
            self.placement = f"on the {device.type.upper()} ({nbytes / 1e9:.2f} GB uint8, batches gathered there)"
            self._epoch, self._order = -1, None
        elif device.type != "cuda":
            self.placement = "host memory"
        else:
            self.placement = "host memory, pinned prefetch on a side stream"
            shape = (sampler.batch_size, *images.shape[1:])
            self._stream = torch.cuda.Stream(device)
            self._pinned = [torch.empty(shape, dtype=torch.uint8).pin_memory() for _ in range(2)]
            self._on_gpu = [torch.empty(shape, dtype=torch.uint8, device=device) for _ in range(2)]
            self._copied = [torch.cuda.Event() for _ in range(2)]
            self._ready_step: int | None = None

    def __call__(self, step: int) -> torch.Tensor:
        if self.resident:
            return self._gather_on_device(step)
        if self.device.type != "cuda":
            return self.images[self.sampler.indices(step)]
        if self._ready_step != step:  # first call, or a jump (resume): fetch this step now
            self._prefetch(step)
        batch = self._on_gpu[step % 2]
        torch.cuda.current_stream(self.device).wait_event(self._copied[step % 2])
        self._prefetch(step + 1)
        return batch

    def _gather_on_device(self, step: int) -> torch.Tensor:
        epoch, part = self.sampler.locate(step)
        if epoch != self._epoch:  # one copy of the epoch's order, then every batch is a gather on the device
            self._epoch, self._order = epoch, self.sampler.permutation(epoch).to(self.device)
        return self.images.index_select(0, self._order[part])

    def _prefetch(self, step: int) -> None:
        slot = step % 2
        # The slot's last copy must have landed before its pinned buffer is refilled, and the step that
        # read its GPU buffer (queued before now on the current stream) must run before it is overwritten.
        self._copied[slot].synchronize()
        torch.index_select(self.images, 0, self.sampler.indices(step), out=self._pinned[slot])
        self._stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(self._stream):
            self._on_gpu[slot].copy_(self._pinned[slot], non_blocking=True)
            self._copied[slot].record(self._stream)
        self._ready_step = step
