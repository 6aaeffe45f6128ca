"""Settings of ``dcgan data preview``."""

from __future__ import annotations

from dataclasses import dataclass

from dcgan.settings import Settings, check, option


@dataclass(frozen=True)
class PreviewSettings(Settings):
    """Which images of a data source to show, and how."""

    spec: str = option("rooms", "rooms, rooms:test, an image folder, an .npz file, a torchvision name, fake")
    data_root: str | None = option(None, "folder holding named datasets (default: $DCGAN_DATA_ROOT or ./data)", metavar="DIR")
    image_size: int = option(64, "size to show the images at")
    count: int = option(32, "images to show")
    start: int = option(0, "first image")
    nrow: int = option(8, "tiles per row")
    labels: str | None = option(None, "labels to print, e.g. 'wall,bed' (default: all, at most 8)", metavar="A,B")
    scale: int | None = option(None, "enlarge each tile this many times (default: to at least 128 pixels)")

    def __post_init__(self) -> None:
        check(self.count >= 1 and self.start >= 0 and self.nrow >= 1, "--count and --nrow must be positive and --start not negative")
        check(self.scale is None or self.scale >= 1, "--scale must be positive")


def _check_size(size: int | None, flag: str = "--image-size") -> None:
    from dcgan.config import IMAGE_SIZES

    check(size is None or size in IMAGE_SIZES, f"{flag} must be a power of two from 16 to 256 ({', '.join(map(str, IMAGE_SIZES))}), not {size}")


@dataclass(frozen=True)
class PackSettings(Settings):
    """What to pack, at which size, and how (``dcgan data pack SRC OUT``)."""

    src: str = option("", "SPEC to pack: an image folder, an .npz file, a torchvision name, lsun:<category> or an lmdb folder, rooms")
    out: str = option("", "the pack folder to write (images.npy, labels.npz, dataset.json)")
    image_size: int = option(64, "square size the images are stored at (centre crop, then resize)")
    channels: int | None = option(None, "1 (grey) or 3 (RGB); default: inferred from the data", choices=(1, 3), parse=int)
    data_root: str | None = option(None, "folder holding named datasets (default: $DCGAN_DATA_ROOT or ./data)", metavar="DIR")
    num_images: int | None = option(None, "pack at most this many images (procedural rooms: exactly this many)")
    workers: int | None = option(None, "decoding processes for image files (default: one per CPU core)")
    chunk: int = option(512, "images per unit of work (the progress and resume granularity)")
    force: bool = option(False, "overwrite an existing pack (or an interrupted one of another source) in OUT")

    def __post_init__(self) -> None:
        check(bool(self.src), "give the data to pack: dcgan data pack SRC OUT")
        check(bool(self.out), "give the pack folder to write: dcgan data pack SRC OUT")
        _check_size(self.image_size)
        check(self.channels in (None, 1, 3), f"--channels must be 1 or 3, not {self.channels}")
        check(self.num_images is None or self.num_images >= 1, "--num-images must be positive")
        check(self.workers is None or self.workers >= 1, "--workers must be at least 1")
        check(self.chunk >= 1, "--chunk must be at least 1")


@dataclass(frozen=True)
class DedupSettings(Settings):
    """The semantic hash of the paper (section 3) and how near two codes must be to count as duplicates."""

    spec: str = option("rooms", "SPEC to de-duplicate: a pack folder, an image folder, an .npz file, a torchvision name, rooms")
    data_root: str | None = option(None, "folder holding named datasets (default: $DCGAN_DATA_ROOT or ./data)", metavar="DIR")
    image_size: int | None = option(None, "size of the images read (and of --write-clean's pack); the hash always "
                                          "sees 32x32 centre crops (default: a pack's own size, else 64)")
    num_images: int | None = option(None, "use at most this many images")
    threshold: int = option(3, "near-duplicates: codes that differ in at most this many of the bits (0: identical codes only)")
    bits: int = option(128, "code size: the autoencoder is 3072-BITS-3072 (the paper: 128)")
    epochs: int = option(10, "autoencoder training epochs over --train-images")
    train_images: int = option(20000, "images the autoencoder trains on (a seeded random subset; its cost stays fixed as the data grows)")
    batch_size: int = option(256, "autoencoder batch size")
    lr: float = option(1e-3, "Adam learning rate of the autoencoder")
    noise: float = option(0.1, "denoising: standard deviation of the Gaussian noise added to inputs (pixels in 0..1)")
    shift: int = option(0, "denoising: also move training inputs by up to this many pixels (reconstructing the unmoved image)")
    normalize: bool = option(True, "hash each crop after removing its own mean and contrast (blind to brightness changes; "
                                   "measured: higher precision and recall, docs/results.md)")
    dropout: float = option(0.2, "dropout on the code layer while training (the paper's regulariser)")
    binarize: str = option("median", "bit = ReLU code above its threshold: median (each unit's median on the training images, "
                                     "balanced bits and small buckets) or zero (unit active)", choices=("median", "zero"))
    seed: int = option(0, "seed of the training subset, the initial weights and the noise")
    show: int = option(16, "groups shown in groups.png (the largest first)")
    write_clean: str | None = option(None, "also write a pack with one image per group (the first of each) to this folder", metavar="OUT")
    force: bool = option(False, "let --write-clean overwrite an existing pack")
    device: str = option("cpu", "where the autoencoder runs: cpu, cuda, cuda:N or auto")
    threads: int | None = option(None, "CPU threads for the autoencoder (default: torch's; 1 is often fastest on a busy machine)")

    def __post_init__(self) -> None:
        _check_size(self.image_size)
        check(self.num_images is None or self.num_images >= 2, "--num-images must be at least 2")
        check(1 <= self.bits <= 1024, "--bits must be from 1 to 1024")
        check(0 <= self.threshold < self.bits, f"--threshold must be from 0 to {self.bits - 1} bits")
        check(self.epochs >= 1 and self.train_images >= 1 and self.batch_size >= 1, "--epochs, --train-images and --batch-size must be positive")
        check(self.lr > 0 and self.noise >= 0 and 0 <= self.dropout < 1, "--lr must be positive, --noise not negative, --dropout in [0, 1)")
        check(self.binarize in ("median", "zero"), f"--binarize must be median or zero, not {self.binarize!r}")
        check(0 <= self.shift <= 8, "--shift must be from 0 to 8 pixels")
        check(self.show >= 0, "--show must not be negative")
        check(self.threads is None or self.threads >= 1, "--threads must be at least 1")
