"""Opening the files ``dcgan explore`` was given and serving the page with uvicorn."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from dcgan.errors import UserError
from dcgan.settings.explore import ExploreSettings

BUNDLED = Path(__file__).resolve().parent / "bundled"
BUNDLED_MODEL = BUNDLED / "rooms-32.pt"  # made by scripts/make_bundled_model.py (the demo recipe, shortened)
BUNDLED_JUDGE = BUNDLED / "rooms-32-judge.pt"


def need_web_stack() -> None:
    """Raise a UserError naming the extra to install when Starlette or uvicorn is missing."""
    import importlib.util

    missing = [m for m in ("starlette", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        raise UserError(f"dcgan explore needs {' and '.join(missing)}: pip install 'dcgan[explore]'")


def open_explorer(checkpoint: str | Path | None = None, settings: ExploreSettings | None = None, device: str = "cpu",
                  **options: Any) -> Any:
    """Return an Explorer on ``checkpoint`` (None: the bundled rooms model and, unless a judge is given, its judge)."""
    from dcgan import api
    from dcgan.explore.explorer import Explorer

    s = ExploreSettings.build(settings, **options)
    bundled = checkpoint is None
    if bundled and not BUNDLED_MODEL.is_file():
        raise UserError(f"the bundled model {BUNDLED_MODEL} is missing (run scripts/make_bundled_model.py): give a checkpoint")
    model = api.load(BUNDLED_MODEL if bundled else checkpoint, device)
    judge_path = s.judge or (BUNDLED_JUDGE if bundled and BUNDLED_JUDGE.is_file() else None)
    judge = api.load_judge(judge_path, model) if judge_path is not None else None
    return Explorer(model, judge, s.drop, max_images=s.max_images, visualize_images=s.visualize_images, bundled=bundled)


def allowed_hosts(settings: ExploreSettings) -> list[str] | None:
    """Return the Host names accepted: loopback names when bound to loopback, any otherwise."""
    return ["127.0.0.1", "localhost", "::1"] if settings.loopback else None


def serve(checkpoint: str | Path | None = None, settings: ExploreSettings | None = None, device: str = "cpu",
          **options: Any) -> None:
    """Open the checkpoint, print the page's URL and serve it until interrupted."""
    need_web_stack()
    import socket

    import uvicorn

    from dcgan.explore.app import create_app

    s = ExploreSettings.build(settings, **options)
    if s.threads:
        import torch

        torch.set_num_threads(s.threads)
    explorer = open_explorer(checkpoint, s, device)
    explorer.warm()
    if not s.loopback:
        print(f"dcgan explore: warning: listening on {s.host}: anyone who can reach this machine can use the page and "
              "run your model; use the default --host 127.0.0.1 to keep it local", file=sys.stderr)
    try:  # bind first, so a busy port is one clear line and the printed URL has the real port (--port 0)
        # proto IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY on accepted connections only for sockets that
        # say they are TCP, and without it Nagle's algorithm and delayed ACKs add 40 ms to every response (measured).
        sock = socket.socket(socket.AF_INET6 if ":" in s.host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((s.host, s.port))
    except OSError as exc:
        raise UserError(f"cannot listen on {s.host}:{s.port}: {exc.strerror or exc} (try another --port)") from None
    port = sock.getsockname()[1]
    host = f"[{s.host}]" if ":" in s.host else s.host
    url = f"http://{'127.0.0.1' if s.host in ('0.0.0.0', '::') else host}:{port}/"
    what = "the bundled rooms model" if explorer.bundled else str(explorer.model.path)
    print(f"dcgan explore: {what}" + (f", judge {explorer.judge.source}" if explorer.judge is not None else ", no judge"))
    print(f"open {url}  (Ctrl+C stops the server)", flush=True)
    if s.open:
        import webbrowser

        webbrowser.open(url)
    config = uvicorn.Config(create_app(explorer, allowed_hosts(s)), log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])
