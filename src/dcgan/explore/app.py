"""The explorer's web application (Starlette): one page, its three assets, and image/data endpoints.

Routes (all GET but computing a drop set):

    /                         the page            /static/<name>  explore.js, explore.css (a fixed list)
    /api/info                 model, judge, drops, D layers, limits
    /api/samples.png          ?seeds=0-63&cols=8&drop=N       a grid, no padding (the page maps the cursor to a cell)
    /api/labels               ?seeds=0-63                     the judge's labels per seed
    /api/select               ?query=window=2&start=0&count=64&search=2048   seeds matching a judge query
    /api/walk.png  .gif       ?seeds=1,2,3&steps=8           the slerp path, one row per segment / a GIF download
    /api/walk/frame.png       ?seeds=1,2,3&t=1.5              one image at position t along the path
    /api/arithmetic/<part>.png  ?a=..&b=..&c=..               part: result (3x3 block), pixel, means
    /api/direction.png        ?from=..&to=..&seed=..&scale=..  one image
    /api/forget (POST)        {"object": "window", "max_maps": 8}   a drop set, kept in memory
    /api/visualize.png        ?layer=-1&unit=0                 top real images + guided back-propagation, random D and trained D

Images go over the wire as PNG (or GIF); each image response carries the equivalent command line in
``X-Dcgan-Command``, JSON responses in ``command``. Errors are JSON ``{"error": message}`` with a 4xx
status (5xx, with no traceback, only for a bug). Requests are refused before any work when the query
string or body is too long; on loopback, requests whose Host header is not a loopback name are refused
(a web page elsewhere cannot reach the server through DNS rebinding).
"""

from __future__ import annotations

import io
import json
import sys
from importlib import resources
from typing import Any

import torch
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from dcgan.errors import UserError
from dcgan.explore.explorer import MAX_STEPS, SCALE_LIMIT, Explorer

MAX_QUERY = 4096  # bytes of query string accepted
MAX_BODY = 4096  # bytes of request body accepted (only /api/forget takes one)
ASSETS = {"explore.js": "text/javascript; charset=utf-8", "explore.css": "text/css; charset=utf-8"}
# The page loads nothing but its own assets and images it made (blob: URLs of fetched PNGs).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob:; style-src 'self'; script-src 'self'; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def png(images: torch.Tensor, cols: int | None = None, command: str = "") -> Response:
    """Return uint8 (N, C, H, W) images as one PNG grid without padding, ``cols`` per row (default: all in one row)."""
    from dcgan.images import grid_tensor, to_pil

    cols = cols or len(images)
    grid = grid_tensor(images, nrow=cols, padding=0) if len(images) > 1 else images[0]
    buffer = io.BytesIO()
    to_pil(grid).save(buffer, format="PNG", compress_level=1)  # level 1: about 3x faster to write, ~20% larger
    return Response(buffer.getvalue(), media_type="image/png", headers={"X-Dcgan-Command": command})


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=SECURITY_HEADERS)


class Limits:
    """ASGI middleware: refuse an oversized query string (414) or body (413) before the app sees the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if len(scope.get("query_string", b"")) > MAX_QUERY or len(scope.get("path", "")) > MAX_QUERY:
            await error(414, f"request too long: at most {MAX_QUERY} bytes of query")(scope, receive, send)
            return
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            await error(413, f"request body too large: at most {MAX_BODY} bytes")(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_app(explorer: Explorer, allowed_hosts: list[str] | None = None) -> Starlette:
    """Return the Starlette app serving ``explorer``; ``allowed_hosts`` limits the Host header (None: any)."""
    page = resources.files("dcgan.explore").joinpath("static", "index.html").read_bytes()
    assets = {name: resources.files("dcgan.explore").joinpath("static", name).read_bytes() for name in ASSETS}
    ex = explorer

    def arg(request: Request, name: str) -> str | None:
        return request.query_params.get(name)

    async def index(request: Request) -> Response:
        return Response(page, media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in assets:  # a fixed list: no request reaches the file system
            return error(404, f"no asset {name[:60]!r}")
        return Response(assets[name], media_type=ASSETS[name], headers=SECURITY_HEADERS)

    def info(request: Request) -> Response:
        return JSONResponse(ex.info())

    def samples(request: Request) -> Response:
        seeds = ex.seeds(arg(request, "seeds"))
        drop = ex.drop(arg(request, "drop"))
        cols = int(ex.number(arg(request, "cols"), "cols", 1, 64, default=min(8, len(seeds)), integer=True))
        return png(ex.images(seeds, drop), cols, ex.sample_command(seeds, drop))

    def labels(request: Request) -> Response:
        seeds = ex.seeds(arg(request, "seeds"))
        return JSONResponse({"labels": ex.labels(seeds)})

    def select(request: Request) -> Response:
        start = ex.seed(arg(request, "start") or "0", "start")
        count = int(ex.number(arg(request, "count"), "count", 1, ex.max_images, default=64, integer=True))
        search = int(ex.number(arg(request, "search"), "search", 1, 8192, default=2048, integer=True))
        return JSONResponse(ex.select(arg(request, "query"), start, count, search))

    def walk_args(request: Request) -> tuple[list[int], int]:
        seeds = ex.seeds(arg(request, "seeds"), "walk points", limit=32)
        steps = int(ex.number(arg(request, "steps"), "steps", 2, MAX_STEPS, default=8, integer=True))
        return seeds, steps

    def walk_strip(request: Request) -> Response:
        seeds, steps = walk_args(request)
        frames = ex.walk_frames(seeds, steps)  # one row per segment, as the walk tool's grid and the paper's figure
        return png(frames.flatten(0, 1), steps, ex.walk_command(seeds, steps))

    def walk_gif(request: Request) -> Response:
        seeds, steps = walk_args(request)
        fps = ex.number(arg(request, "fps"), "fps", 1, 30, default=8.0)
        name = f"walk-{'-'.join(map(str, seeds[:6]))}.gif"
        return Response(ex.walk_gif(seeds, steps, fps), media_type="image/gif",
                        headers={"Content-Disposition": f'attachment; filename="{name}"',
                                 "X-Dcgan-Command": ex.walk_command(seeds, steps)})

    def walk_frame(request: Request) -> Response:
        seeds = ex.seeds(arg(request, "seeds"), "walk points", limit=32)
        t = ex.number(arg(request, "t"), "position", 0, len(seeds) - 1, default=0.0)
        return png(ex.walk_frame(seeds, t), command=ex.walk_command(seeds, 8))

    def arithmetic(request: Request) -> Response:
        part = request.path_params["part"]
        if part not in ("result", "pixel", "means"):
            return error(404, f"no arithmetic part {part[:40]!r}: use result, pixel or means")
        a, b, c = ex.slots(dict(request.query_params), "abc")
        result = ex.arithmetic(a, b, c)
        command = ex.arithmetic_command(a, b, c)
        if part == "result":  # the paper's 3x3 block: G(y) in the centre, its 8 noise variations around it
            images = result.images
            order = [1, 2, 3, 4, 0, 5, 6, 7, 8] if len(images) == 9 else list(range(len(images)))
            return png(images[order], 3, command)
        if part == "pixel":  # mean image of A, of B, of C, and mean(A) - mean(B) + mean(C) on pixels
            return png(result.pixel, 4, command)
        return png(result.means, 3, command)  # G(mean code) of A, B and C

    def direction(request: Request) -> Response:
        z_from, z_to = ex.slots({"from": arg(request, "from"), "to": arg(request, "to")}, ("from", "to"))
        seed = ex.seed(arg(request, "seed"), "the sample to move")
        scale = ex.number(arg(request, "scale"), "scale", -SCALE_LIMIT, SCALE_LIMIT, default=0.0)
        return png(ex.direction(z_from, z_to, seed, scale), command=ex.direction_command(z_from, z_to, seed, scale))

    async def forget(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        body = b""
        async for chunk in request.stream():  # counted, for a body sent without Content-Length
            body += chunk
            if len(body) > MAX_BODY:
                return error(413, f"request body too large: at most {MAX_BODY} bytes")
        try:
            given = json.loads(body or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            return error(400, "the body must be JSON like {\"object\": \"window\", \"max_maps\": 8}")
        if not isinstance(given, dict):
            return error(400, "the body must be a JSON object like {\"object\": \"window\", \"max_maps\": 8}")
        obj = given.get("object", "window")
        max_maps = given.get("max_maps")
        if not isinstance(obj, str) or not (max_maps is None or (isinstance(max_maps, int) and 1 <= max_maps <= 4096)):
            return error(400, "object must be a name (window, bed, rug) and max_maps a whole number from 1 to 4096, or absent")
        drop = await run_in_threadpool(ex.compute_drop, obj, max_maps)
        return JSONResponse(drop.describe(len(ex.drops) - 1))

    def visualize(request: Request) -> Response:
        layers = ex.d_layers()
        layer = int(ex.number(arg(request, "layer"), "layer", -len(layers), len(layers) - 1, default=-1, integer=True))
        channels = layers[layer]
        unit = int(ex.number(arg(request, "unit"), f"unit (this layer has {channels})", 0, channels - 1, default=0, integer=True))
        result = ex.visualize(layer, unit)
        return png(visualize_rows(result), 16, ex.visualize_command(layer, unit))

    async def user_error(request: Request, exc: Exception) -> Response:
        return error(400, str(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return error(exc.status_code, exc.detail if isinstance(exc.detail, str) else "bad request")

    async def server_error(request: Request, exc: Exception) -> Response:
        # A bug, not the user's doing: one line on the server's console, no traceback on the page.
        print(f"dcgan explore: internal error on {request.url.path}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return error(500, f"internal error ({type(exc).__name__}); the server's console has the details")

    routes = [
        Route("/", index),
        Route("/static/{name}", static),
        Route("/api/info", info),
        Route("/api/samples.png", samples),
        Route("/api/labels", labels),
        Route("/api/select", select),
        Route("/api/walk.png", walk_strip),
        Route("/api/walk.gif", walk_gif),
        Route("/api/walk/frame.png", walk_frame),
        Route("/api/arithmetic/{part}.png", arithmetic),
        Route("/api/direction.png", direction),
        Route("/api/forget", forget, methods=["POST"]),
        Route("/api/visualize.png", visualize),
    ]
    middleware = [Middleware(Limits)]
    if allowed_hosts is not None:
        middleware.insert(0, Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts))
    handlers: dict[Any, Any] = {UserError: user_error, HTTPException: http_error, Exception: server_error}
    return Starlette(routes=routes, middleware=middleware, exception_handlers=handlers)


def visualize_rows(result: Any) -> torch.Tensor:
    """Return uint8 (2 * 2k, C, H, W) tiles: per D (random, then trained) its unit's k top real images, then their k maps."""
    from dcgan.report.visualize import gradient_pictures

    rows = []
    for _title, views in result.panels:
        top = result.images[views.image_index[0]]
        maps = gradient_pictures(views.grads[0])
        if maps.shape[1] != top.shape[1]:
            maps = maps.expand(-1, top.shape[1], -1, -1)
        rows.append(torch.cat([top, maps]))  # 2k tiles: k images then their k maps
    return torch.cat(rows)
