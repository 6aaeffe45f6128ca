"""Settings of ``dcgan explore``."""

from __future__ import annotations

from dataclasses import dataclass

from dcgan.settings import Settings, check, option

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def as_paths(value: str | tuple[str, ...] | None) -> tuple[str, ...]:
    """Return drop files from 'a.json,b.json' or a tuple of paths (empty when none)."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(str(p).strip() for p in items if str(p).strip())


@dataclass(frozen=True)
class ExploreSettings(Settings):
    """Where the explorer listens, what it opens besides the checkpoint, and how much work one request may ask for."""

    judge: str | None = option(None, "a judge file (dcgan judge train): labels on hover, the query filter, computing a forget set "
                                     "(default: none, or the bundled rooms judge when no checkpoint is given)", metavar="JUDGE")
    drop: str | tuple[str, ...] | None = option(None, "dropped.json file(s) written by 'dcgan forget', comma-separated, for the "
                                                      "Forget panel; the page can use no other file", metavar="FILES")
    host: str = option("127.0.0.1", "address to listen on; anything but 127.0.0.1/localhost exposes the page (and your model) "
                                     "to the network, with a warning")
    port: int = option(8000, "port to listen on (0: any free port)")
    open: bool = option(False, "open the page in the default web browser")
    max_images: int = option(256, "most images one request may generate (a grid, a walk strip)")
    threads: int = option(0, "CPU threads torch uses (0: torch's default, one per core); 1 can be faster on a machine "
                             "busy with other jobs (docs/performance.md)")
    visualize_images: int = option(512, "real images the Inside D panel searches for each unit's strongest responses", metavar="N")

    def __post_init__(self) -> None:
        self.normalise("drop", as_paths(self.drop))
        check(bool(self.host.strip()), "--host must name an address, e.g. 127.0.0.1")
        check(0 <= self.port <= 65535, f"--port must be between 0 and 65535, not {self.port}")
        check(1 <= self.max_images <= 4096, f"--max-images must be between 1 and 4096, not {self.max_images}")
        check(self.threads >= 0, f"--threads must be 0 (torch's default) or more, not {self.threads}")
        check(self.visualize_images >= 8, f"--visualize-images must be at least 8, not {self.visualize_images}")

    @property
    def loopback(self) -> bool:
        """True when only this machine can reach the server."""
        return self.host in LOOPBACK
