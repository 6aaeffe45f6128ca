"""dcgan: DCGAN (Radford, Metz & Chintala, ICLR 2016) with training, sampling and the paper's experiments."""

from dcgan._alloc import apply_allocator_settings

# Before torch allocates anything: see _alloc.py for why.
apply_allocator_settings()

__version__ = "0.1.0"
