"""Mini-batches sliced straight from an in-memory (or memory-mapped) uint8 tensor.

No DataLoader and no worker processes: on a 2-core machine workers steal compute from the two math
threads (measured -22% at 32x32), and slicing a uint8 tensor costs microseconds. The order of epoch
``e`` is a pure function of (seed, e), so a resumed run sees exactly the batches a straight run sees.
"""

from __future__ import annotations

import torch

from dcgan.errors import UserError


class BatchSampler:
    """Yields index tensors for each step; every epoch is a fresh permutation, the last partial batch dropped."""

    def __init__(self, num_items: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1) -> None:
        self.num_items, self.batch_size, self.seed = num_items, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.steps_per_epoch = num_items // (batch_size * world_size)
        if self.steps_per_epoch == 0:
            raise UserError(
                f"only {num_items} images for a batch of {batch_size}"
                + (f" on each of {world_size} processes" if world_size > 1 else "")
                + ": use a smaller --batch-size or more data"
            )
        self._epoch, self._perm = -1, torch.empty(0, dtype=torch.long)

    def permutation(self, epoch: int) -> torch.Tensor:
        """Return the order of all items in ``epoch`` (0-based)."""
        if epoch != self._epoch:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._epoch, self._perm = epoch, torch.randperm(self.num_items, generator=gen)
        return self._perm

    def locate(self, step: int) -> tuple[int, slice]:
        """Return the epoch of global ``step`` and the part of that epoch's permutation this process takes."""
        epoch, within = divmod(step, self.steps_per_epoch)
        start = (within * self.world_size + self.rank) * self.batch_size
        return epoch, slice(start, start + self.batch_size)

    def indices(self, step: int) -> torch.Tensor:
        """Return this process's item indices for global ``step`` (0-based, counting across epochs)."""
        epoch, part = self.locate(step)
        return self.permutation(epoch)[part]
