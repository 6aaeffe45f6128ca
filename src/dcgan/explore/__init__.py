"""``dcgan explore``: a local web page to see and play with what a DCGAN learned.

    from dcgan.explore import Explorer, create_app, open_explorer
    explorer = open_explorer("runs/00000-demo", judge="judges/rooms-32.pt")   # or open_explorer() for the bundled model
    app = create_app(explorer)                  # a Starlette app; serve() runs it with uvicorn

Modules: ``explorer`` (the page's operations as plain methods over the library's tools), ``app`` (routes,
limits, errors), ``server`` (opening files, uvicorn, the printed URL), ``static/`` (the page: plain HTML,
CSS and JavaScript, no network), ``bundled/`` (a small rooms model and judge, made by
``scripts/make_bundled_model.py``). Needs the optional extra ``pip install 'dcgan[explore]'``.
"""

from __future__ import annotations

from dcgan.explore.server import BUNDLED_JUDGE, BUNDLED_MODEL, open_explorer, serve

__all__ = ["BUNDLED_JUDGE", "BUNDLED_MODEL", "Explorer", "create_app", "open_explorer", "serve"]


def __getattr__(name: str):  # Explorer and create_app import torch and starlette: only when asked for
    if name == "Explorer":
        from dcgan.explore.explorer import Explorer

        return Explorer
    if name == "create_app":
        from dcgan.explore.app import create_app

        return create_app
    raise AttributeError(name)
