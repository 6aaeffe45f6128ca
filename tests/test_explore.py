"""dcgan explore at the HTTP level (Starlette's TestClient): images are the library's, bad requests are 4xx with a message.

Each image endpoint is checked against the library call that makes the same picture (known answers, pixel
for pixel); the security claims of the issue each have a test: loopback Host only, a fixed asset list (no
path traversal), size limits, drop sets chosen by number (no path from the page), no traceback on the page,
and no file opened beyond those given on the command line.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("starlette", reason="dcgan explore needs the explore extra: pip install 'dcgan[explore]'")
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx (the dev extra installs it)")

from starlette.testclient import TestClient  # noqa: E402

import dcgan  # noqa: E402
from dcgan.explore.app import MAX_BODY, MAX_QUERY, create_app  # noqa: E402
from dcgan.explore.explorer import MAX_SEED, Explorer  # noqa: E402

SIZE = 32
LOOPBACK = ["127.0.0.1", "localhost", "::1"]


@pytest.fixture(scope="module")
def setup(trained, tmp_path_factory):
    """The tiny model and judge, a dropped.json written by dcgan forget, and an Explorer on them."""
    out = tmp_path_factory.mktemp("explore")
    model = dcgan.load(trained.latest, "cpu")
    judge = dcgan.load_judge(trained.judge, model)
    forgot = dcgan.analysis.forget(model, judge=judge, seeds="0-31", max_maps=4, control_draws=0, eval_seeds="100000-100015")
    drop_file = dcgan.analysis.save(forgot, out / "forget").folder / "dropped.json"
    explorer = Explorer(model, judge, [str(drop_file)], max_images=256, visualize_images=32)
    return model, judge, drop_file, explorer


@pytest.fixture(scope="module")
def client(setup):
    with TestClient(create_app(setup[3], LOOPBACK), base_url="http://127.0.0.1") as c:
        yield c


def decode_png(response) -> torch.Tensor:
    """Return a PNG response as uint8 (C, H, W)."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    arr = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)


def tile(grid: torch.Tensor, index: int, cols: int) -> torch.Tensor:
    r, c = divmod(index, cols)
    return grid[:, r * SIZE : (r + 1) * SIZE, c * SIZE : (c + 1) * SIZE]


def refused(response, status: int, *words: str) -> str:
    """Assert a JSON error with ``status`` whose message holds ``words``, and no traceback; return the message."""
    assert response.status_code == status, (response.status_code, response.text)
    message = response.json()["error"]
    for w in words:
        assert w in message, message
    assert "Traceback" not in response.text and 'File "' not in response.text
    return message


# ---------------------------------------------------------------------------------------------------
# The page and its assets.


def test_page_and_assets_are_served_with_a_strict_policy(client):
    page = client.get("/")
    assert page.status_code == 200 and "<title>dcgan explore</title>" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name, kind in (("explore.js", "javascript"), ("explore.css", "text/css")):
        r = client.get(f"/static/{name}")
        assert r.status_code == 200 and kind in r.headers["content-type"]
        assert not re.search(r"https?://", r.text), f"{name} names a URL: the page must work with no network"
    assert not re.search(r"(src|href)=\"https?://", page.text)


def test_info_describes_model_judge_drops_and_d(client, setup):
    model, judge, drop_file, _ = setup
    info = client.get("/api/info").json()
    assert info["model"]["image_size"] == SIZE and info["model"]["z_dim"] == model.z_dim
    assert info["judge"]["factors"] == judge.value_names
    assert info["drops"][0]["file"] == str(drop_file) and info["drops"][0]["count"] == 4
    assert info["d_layers"] == [8, 16, 32]  # ndf 8 at 32 px: three strided convolutions, doubling
    assert info["limits"]["max_seed"] == MAX_SEED


# ---------------------------------------------------------------------------------------------------
# Samples: the grid is Model.sample's images, tiled without padding; labels are the judge's.


def test_grid_is_the_models_samples_tiled_in_order(client, setup):
    model = setup[0]
    r = client.get("/api/samples.png", params={"seeds": "0-63", "cols": 8})
    grid = decode_png(r)
    assert grid.shape == (3, 8 * SIZE, 8 * SIZE)
    expected = model.sample(range(64))
    for i in (0, 9, 63):
        assert torch.equal(tile(grid, i, 8), expected[i])
    assert r.headers["x-dcgan-command"] == f"dcgan sample {setup[3].ckpt} --seeds 0-63"
    typed = decode_png(client.get("/api/samples.png", params={"seeds": "42,7", "cols": 2}))
    assert torch.equal(tile(typed, 0, 2), model.sample([42])[0]) and torch.equal(tile(typed, 1, 2), model.sample([7])[0])


def test_labels_are_the_judges(client, setup):
    model, judge = setup[:2]
    labels = client.get("/api/labels", params={"seeds": "3,5"}).json()["labels"]
    probs = judge.predict(model.sample([3, 5]))
    assert [x["seed"] for x in labels] == [3, 5]
    assert [x["text"] for x in labels] == [judge.describe(probs, 0), judge.describe(probs, 1)]


def test_query_filter_returns_matching_seeds_and_names_unknown_factors(client, setup):
    from dcgan.judges import match

    model, judge = setup[:2]
    factor, values = next(iter(judge.value_names.items()))
    probs = judge.predict(model.sample(range(256)))
    counts = [int(match(judge, f"{factor}={v}", probs).sum()) for v in values]
    value = values[int(np.argmax(counts))]  # the most common value: the search surely finds some
    data = client.get("/api/select", params={"query": f"{factor}={value}", "start": 0, "count": 8, "search": 256}).json()
    expected = match(judge, f"{factor}={value}", probs).nonzero().flatten().tolist()[:8]
    assert data["seeds"] == expected and expected
    assert data["command"].startswith("dcgan judge select ")
    refused(client.get("/api/select", params={"query": "colour=red"}), 400, "no factor 'colour'", factor)
    refused(client.get("/api/select", params={"query": f"{factor}=purple"}), 400, "no value 'purple'")
    refused(client.get("/api/select", params={"query": "window>2"}), 400, "cannot read")


@pytest.mark.parametrize(("seeds", "words"), [
    (str(MAX_SEED + 1), ("out of range",)),
    ("0-99999999999999", ("out of range",)),
    ("0-300", ("more seeds than one request",)),
    ("-5", ("cannot read",)),
    ("abc", ("cannot read",)),
    ("", ("no seeds",)),
    ("1" * 600, ("too long",)),
])
def test_bad_seeds_get_a_clear_message(client, seeds, words):
    started = time.perf_counter()
    refused(client.get("/api/samples.png", params={"seeds": seeds}), 400, *words)
    assert time.perf_counter() - started < 2.0  # refused before any work (a huge range is never expanded)


# ---------------------------------------------------------------------------------------------------
# Walk, arithmetic, direction: the library's codes decoded.


def test_walk_strip_frames_and_gif(client, setup):
    model = setup[0]
    r = client.get("/api/walk.png", params={"seeds": "1,2,3", "steps": 4})
    strip = decode_png(r)
    frames = dcgan.analysis.walk(model, seeds=[1, 2, 3], steps=4).images[0].flatten(0, 1)
    assert strip.shape == (3, 2 * SIZE, 4 * SIZE)  # one row per segment, both ends included, as dcgan walk's grid
    for i in range(8):
        assert torch.equal(tile(strip, i, 4), frames[i])
    assert r.headers["x-dcgan-command"].endswith("--seeds 1,2,3 --steps 4")
    ends = [decode_png(client.get("/api/walk/frame.png", params={"seeds": "1,2,3", "t": t})) for t in (0, 1, 2)]
    for image, expected in zip(ends, model.sample([1, 2, 3]), strict=True):
        assert (image.int() - expected.int()).abs().max() <= 1  # slerp's end points are the codes themselves
    middle = decode_png(client.get("/api/walk/frame.png", params={"seeds": "1,2,3", "t": 0.5}))
    assert not torch.equal(middle, ends[0]) and not torch.equal(middle, ends[1])
    gif = client.get("/api/walk.gif", params={"seeds": "1,2,3", "steps": 4})
    assert gif.content.startswith(b"GIF89a") and "attachment" in gif.headers["content-disposition"]
    assert Image.open(io.BytesIO(gif.content)).n_frames == 7
    refused(client.get("/api/walk.png", params={"seeds": "1", "steps": 4}), 400, "at least two")
    refused(client.get("/api/walk/frame.png", params={"seeds": "1,2", "t": 1.5}), 400, "between 0 and 1")
    refused(client.get("/api/walk.png", params={"seeds": "1,2", "steps": 1000}), 400, "steps")


def test_arithmetic_result_variations_and_pixel_baseline(client, setup):
    from dcgan import latent
    from dcgan.analysis.arithmetic import pixel_arithmetic

    model = setup[0]
    params = {"a": "1,2", "b": "3", "c": "4,5"}
    block = decode_png(client.get("/api/arithmetic/result.png", params=params))
    assert block.shape == (3, 3 * SIZE, 3 * SIZE)
    y = latent.arithmetic(model.codes([1, 2]), model.codes([3]), model.codes([4, 5]))
    assert torch.equal(tile(block, 4, 3), model.decode(y.unsqueeze(0))[0])  # G(y) in the centre
    assert len({tile(block, i, 3).numpy().tobytes() for i in range(9)}) == 9  # 8 different variations around it
    pixel = decode_png(client.get("/api/arithmetic/pixel.png", params=params))
    expected = pixel_arithmetic(model.sample([1, 2]), model.sample([3]), model.sample([4, 5]))
    assert torch.equal(tile(pixel, 3, 4), expected)
    means = decode_png(client.get("/api/arithmetic/means.png", params=params))
    assert torch.equal(tile(means, 1, 3), model.sample([3])[0])  # the mean of one code is that code
    r = client.get("/api/arithmetic/result.png", params=params)
    assert r.headers["x-dcgan-command"].endswith("--a 1-2 --b 3 --c 4-5 --exemplars 1")
    refused(client.get("/api/arithmetic/result.png", params={"a": "1", "b": "", "c": "4"}), 400, "slot B is empty")
    refused(client.get("/api/arithmetic/result.png", params={"a": "1", "c": "4"}), 400, "slot B is empty")
    refused(client.get("/api/arithmetic/other.png", params=params), 404, "result, pixel or means")


def test_direction_slider_moves_the_code_along_the_mean_difference(client, setup):
    model = setup[0]
    base = {"from": "1-4", "to": "5,6,7,8,9", "seed": 12}
    at0 = decode_png(client.get("/api/direction.png", params={**base, "scale": 0}))
    assert torch.equal(at0, model.sample([12])[0])
    d = model.codes([5, 6, 7, 8, 9]).mean(0) - model.codes([1, 2, 3, 4]).mean(0)
    r = client.get("/api/direction.png", params={**base, "scale": -1.5})
    assert torch.equal(decode_png(r), model.decode(model.codes([12]) - 1.5 * d)[0])
    assert "--from 1-4 --to 5-9 --seeds 12 --scales 0,-1.5 --exemplars 4" in r.headers["x-dcgan-command"]
    refused(client.get("/api/direction.png", params={**base, "to": "5,6", "scale": 1}), 400, "at least 4", "to has 2")
    refused(client.get("/api/direction.png", params={**base, "scale": 2.5}), 400, "between -2 and 2")
    refused(client.get("/api/direction.png", params={**base, "scale": "nan"}), 400, "between -2 and 2")
    refused(client.get("/api/direction.png", params={**base, "from": ""}), 400, "slot FROM is empty")
    refused(client.get("/api/direction.png", params={**base, "seed": "x"}), 400, "whole number")


# ---------------------------------------------------------------------------------------------------
# Forget and inside D.


def test_drop_file_from_the_command_line_matches_dcgan_sample_drop(client, setup):
    model, _, drop_file, _ = setup
    with_drop = decode_png(client.get("/api/samples.png", params={"seeds": "0-7", "cols": 8, "drop": 0}))
    expected = dcgan.analysis.sample(model, seeds="0-7", drop=str(drop_file)).images
    for i in range(8):
        assert torch.equal(tile(with_drop, i, 8), expected[i])
    without = decode_png(client.get("/api/samples.png", params={"seeds": "0-7", "cols": 8}))
    assert not torch.equal(with_drop, without)
    r = client.get("/api/samples.png", params={"seeds": "0-7", "drop": 0})
    assert r.headers["x-dcgan-command"].endswith(f"--seeds 0-7 --drop {drop_file}")
    for bad in ("/etc/passwd", "../dropped.json", str(drop_file), "7", "1e3"):
        refused(client.get("/api/samples.png", params={"seeds": "0-7", "drop": bad}), 400, "numbered")


def test_forget_computed_on_the_page_stays_in_memory(client, setup, tmp_path):
    explorer = setup[3]
    before = len(explorer.drops)
    r = client.post("/api/forget", json={"object": "window", "max_maps": 3})
    assert r.status_code == 200, r.text
    drop = r.json()
    assert drop["id"] == before and drop["count"] == 3 and drop["file"] is None
    assert drop["command"].startswith("dcgan forget ") and "--max-maps 3" in drop["command"]
    grid = client.get("/api/samples.png", params={"seeds": "0-3", "drop": drop["id"]})
    assert grid.status_code == 200 and "dcgan forget" in grid.headers["x-dcgan-command"]
    refused(client.post("/api/forget", json={"object": "sofa"}), 400, "not 'sofa'")
    refused(client.post("/api/forget", content=b"{not json"), 400, "JSON")
    refused(client.post("/api/forget", json={"object": "window", "max_maps": "all"}), 400, "max_maps")
    refused(client.post("/api/forget", content=b"x" * (MAX_BODY + 1)), 413, "too large")
    assert client.get("/api/forget").status_code == 405


def test_inside_d_shows_top_images_and_maps_of_both_ds(client, setup):
    model = setup[0]
    r = client.get("/api/visualize.png", params={"layer": -1, "unit": 1})
    image = decode_png(r)
    assert image.shape == (3, 2 * SIZE, 16 * SIZE)  # random D, then trained D: 8 top images and their 8 maps
    result = dcgan.analysis.visualize(model, layer=-1, units=(1,), top_k=8, num_images=32, pointing=False)
    trained_top = result.images[result.panels[1][1].image_index[0]]
    for i in range(8):
        assert torch.equal(tile(image, 16 + i, 16), trained_top[i])
    assert "dcgan visualize" in r.headers["x-dcgan-command"] and "--units 1" in r.headers["x-dcgan-command"]
    channels = client.get("/api/info").json()["d_layers"][-1]
    refused(client.get("/api/visualize.png", params={"layer": -1, "unit": channels}), 400, "unit")
    refused(client.get("/api/visualize.png", params={"layer": 9}), 400, "layer")


def test_every_command_the_page_shows_runs_and_makes_the_same_images(client, setup, tmp_path):
    """The page's claim 'reproduce this from the command line', checked: each shown command exits 0; the grid's matches."""
    import shlex

    from dcgan.cli import main

    shown = {
        "sample": client.get("/api/samples.png", params={"seeds": "0-7", "drop": 0}).headers["x-dcgan-command"],
        "walk": client.get("/api/walk.png", params={"seeds": "1,2", "steps": 3}).headers["x-dcgan-command"],
        "arithmetic": client.get("/api/arithmetic/result.png", params={"a": "1,2", "b": "3,4", "c": "5,6"}).headers["x-dcgan-command"],
        "direction": client.get("/api/direction.png", params={"from": "1-4", "to": "5-8", "seed": 9, "scale": 1}).headers["x-dcgan-command"],
        "visualize": client.get("/api/visualize.png", params={"layer": -1, "unit": 0}).headers["x-dcgan-command"],
        "select": client.get("/api/select", params={"query": "wall!=red", "count": 2, "search": 64}).json()["command"],
    }
    for name, command in shown.items():
        argv = shlex.split(command)
        assert argv[0] == "dcgan", command
        extra = ["--grid", str(tmp_path / "select.png")] if name == "select" else ["--out", str(tmp_path / name)]
        if name == "sample":
            extra += ["--each"]
        assert main([*argv[1:], *extra]) == 0, command
    written = sorted((tmp_path / "sample" / "images").glob("*.png"))
    grid = decode_png(client.get("/api/samples.png", params={"seeds": "0-7", "cols": 8, "drop": 0}))
    assert len(written) == 8
    for i, path in enumerate(written):
        assert torch.equal(torch.from_numpy(np.asarray(Image.open(path).convert("RGB")).copy()).permute(2, 0, 1), tile(grid, i, 8))


# ---------------------------------------------------------------------------------------------------
# Security and robustness.


@pytest.mark.parametrize("path", [
    "/static/../../../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd", "/static/..%2f..%2fetc%2fpasswd",
    "/static/%2e%2e%2fexplorer.py", "/static/explorer.py", "/static/index.html/..", "/../../etc/passwd", "/etc/passwd",
    "/api/../../etc/passwd", "/static/%00", "/static/explore.js%00.png",
])
def test_path_traversal_reaches_no_file(client, path):
    r = client.get(path)
    assert r.status_code == 404, (path, r.status_code)
    assert "root:" not in r.text and "import" not in r.text


def test_foreign_host_header_is_refused_on_loopback(client):
    assert client.get("/api/info", headers={"host": "evil.example:8000"}).status_code == 400
    assert client.get("/api/info", headers={"host": "localhost:8000"}).status_code == 200


def test_oversized_and_malformed_requests_are_4xx(client):
    refused(client.get("/api/samples.png?seeds=" + "1," * (MAX_QUERY // 2 + 1)), 414, "too long")
    refused(client.post("/api/forget", content=b"{}", headers={"content-length": "100000000"}), 413, "too large")
    assert client.get("/api/nothing").status_code == 404
    assert client.post("/api/samples.png", params={"seeds": "0"}).status_code == 405
    refused(client.get("/api/samples.png", params={"seeds": "0", "cols": "0"}), 400, "cols")


def test_a_bug_is_a_500_without_traceback(setup, monkeypatch):
    explorer = setup[3]
    monkeypatch.setattr(explorer, "images", lambda *a, **k: 1 / 0)
    with TestClient(create_app(explorer, LOOPBACK), base_url="http://127.0.0.1", raise_server_exceptions=False) as c:
        r = c.get("/api/samples.png", params={"seeds": "0"})
    assert r.status_code == 500
    assert r.json()["error"].startswith("internal error (ZeroDivisionError)")
    assert "Traceback" not in r.text and "explorer.py" not in r.text


def test_no_request_opens_a_file_beyond_those_given(client, setup, tmp_path):
    """Every request, hostile parameters included, opens no file but Python's own (imports) and writes none."""
    opened: list[tuple[str, str]] = []
    active = threading.Event()

    def audit(event: str, args: tuple) -> None:
        if event == "open" and active.is_set() and isinstance(args[0], str | bytes | os.PathLike):
            opened.append((os.fsdecode(args[0]), str(args[1])))

    sys.addaudithook(audit)  # cannot be removed: it records only while ``active`` is set
    hostile = str(tmp_path / "secret.txt")
    Path(hostile).write_text("secret")
    requests = [
        ("/api/samples.png", {"seeds": "0-15", "drop": hostile}), ("/api/samples.png", {"seeds": hostile}),
        ("/api/samples.png", {"seeds": "0-15", "drop": 0}), ("/api/labels", {"seeds": "0-3"}),
        ("/api/select", {"query": f"window={hostile}"}), ("/api/walk.png", {"seeds": "1,2"}),
        ("/api/walk.gif", {"seeds": "1,2", "steps": 3}), ("/api/arithmetic/result.png", {"a": "1", "b": "2", "c": hostile}),
        ("/api/direction.png", {"from": "1-4", "to": "5-8", "seed": "3", "scale": "1"}), ("/static/" + hostile, {}),
        ("/api/info", {}), ("/", {}),
    ]
    active.set()
    try:
        for path, params in requests:
            assert client.get(path, params=params).status_code < 500
    finally:
        active.clear()
    allowed = (sys.prefix, sys.base_prefix, str(Path(dcgan.__file__).parent), "/dev/", "/proc/", "/sys/")
    assert not [p for p, mode in opened if any(m in mode for m in "wax+")], opened
    assert [p for p, _ in opened if not p.startswith(allowed)] == []
    assert hostile not in [p for p, _ in opened]


# ---------------------------------------------------------------------------------------------------
# The bundled model, the command line and a real server.


def test_bundled_model_and_judge_ship_small_and_open_safely():
    from dcgan.explore import BUNDLED_JUDGE, BUNDLED_MODEL, open_explorer

    for f in (BUNDLED_MODEL, BUNDLED_JUDGE):
        assert f.is_file() and f.stat().st_size < 5_000_000, f
    explorer = open_explorer(device="cpu")
    assert explorer.bundled and explorer.model.image_size == 32 and explorer.judge is not None
    assert explorer.judge.localiser is not None
    assert explorer.images([0, 1]).shape == (2, 3, 32, 32)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dcgan.cli", "explore", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("args", "words"), [
    (["--port", "70000"], "--port must be between 0 and 65535"),
    (["no/such/run"], "checkpoint not found"),
    (["--max-images", "0"], "--max-images"),
])
def test_cli_refuses_bad_arguments_in_one_line(args, words):
    r = run_cli(*args)
    assert r.returncode == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_cli_refuses_a_drop_file_of_another_checkpoint(trained, tmp_path):
    bad = tmp_path / "dropped.json"
    bad.write_text('{"format": "dcgan-drop", "version": 1, "digest": "other", "layer": 1, "maps": [0]}')
    r = run_cli(str(trained.latest), "--drop", str(bad), "--port", "0")
    assert r.returncode == 2 and "made for another checkpoint" in r.stderr


def serve_and_get(args: list[str], path: str = "/api/info") -> tuple[str, str, int]:
    """Start dcgan explore on a free port, GET ``path`` at the printed URL; return (stdout, stderr, status)."""
    import httpx

    proc = subprocess.Popen([sys.executable, "-m", "dcgan.cli", "explore", *args, "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        deadline = time.time() + 90
        while time.time() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if line.startswith("open "):
                break
        url = lines[-1].split()[1]
        status = httpx.get(url.rstrip("/") + path, timeout=30).status_code
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    return "".join(lines), err, status


@pytest.mark.slow
def test_server_binds_loopback_by_default_and_warns_otherwise(trained):
    out, err, status = serve_and_get([str(trained.latest)])
    assert status == 200 and "open http://127.0.0.1:" in out and "warning" not in err
    out, err, status = serve_and_get([str(trained.latest), "--host", "0.0.0.0"])
    assert status == 200 and "warning: listening on 0.0.0.0" in err
