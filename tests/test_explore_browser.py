"""dcgan explore in a real browser: Playwright for Python driving Debian's Chromium (/usr/bin/chromium).

The server runs in this process on the small rooms model and judge bundled with the package (32 px, so
as quick as a test checkpoint, and its screenshots show rooms rather than a test net's noise), with a
dropped.json written by dcgan forget; the test pins samples by clicking the grid, drags them into the arithmetic and direction
slots, moves the sliders and checks that the shown image changes, toggles the drop set, opens Inside D,
and saves a screenshot of each panel under the test's temporary folder. Skipped, with the reason, where
Chromium or Playwright is absent (CI installs both: .ci/run).
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).is_file():
    pytest.skip(f"Chromium is absent ({CHROMIUM}): apt-get install -y chromium", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is absent: pip install playwright (the dev extra)")
pytest.importorskip("uvicorn", reason="dcgan explore needs the explore extra: pip install 'dcgan[explore]'")

import dcgan  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Serve the bundled model, its judge and a drop file on a free loopback port; yield the URL."""
    import uvicorn

    from dcgan.explore import BUNDLED_JUDGE, BUNDLED_MODEL
    from dcgan.explore.app import create_app
    from dcgan.explore.explorer import Explorer

    model = dcgan.load(BUNDLED_MODEL, "cpu")
    judge = dcgan.load_judge(BUNDLED_JUDGE, model)
    forgot = dcgan.analysis.forget(model, judge=judge, seeds="0-31", max_maps=4, control_draws=0, eval_seeds="100000-100015")
    drop = dcgan.analysis.save(forgot, tmp_path_factory.mktemp("browser-forget")).folder / "dropped.json"
    app = create_app(Explorer(model, judge, [str(drop)], visualize_images=32), ["127.0.0.1", "localhost"])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP_NODELAY: see dcgan.explore.server
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def page(server):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        pg.goto(server)
        pg.wait_for_selector("body[data-ready='1']", timeout=30_000)
        pg.errors = errors
        yield pg
        browser.close()


def version(page, selector: str) -> int:
    return int(page.eval_on_selector(selector, "el => Number(el.dataset.version || 0)"))


def until(page, expression: str, timeout: float = 30.0) -> None:
    """Poll a JavaScript expression until it is true. (wait_for_function evaluates strings with eval, which the
    page's Content-Security-Policy forbids, as it should; page.evaluate goes through the debugger protocol.)"""
    deadline = time.time() + timeout
    while not page.evaluate(expression):
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        time.sleep(0.05)


def wait_new(page, selector: str, old: int) -> None:
    """Wait until the image ``selector`` shows a newer successful load than ``old``."""
    until(page, f"Number(document.querySelector({selector!r}).dataset.version || 0) > {old}")


def cell(page, index: int) -> dict[str, float]:
    """Return the page position of grid cell ``index`` (row-major, 8 columns)."""
    box = page.locator("#grid").bounding_box()
    size = box["width"] / 8
    r, c = divmod(index, 8)
    return {"x": c * size + size / 2, "y": r * size + size / 2}


def message(page, selector: str) -> str:
    until(page, f"document.querySelector({selector!r}).textContent.length > 0")
    return page.inner_text(selector)


def test_explorer_in_chromium(page, tmp_path):
    shots = tmp_path / "screenshots"
    shots.mkdir()

    # Samples: hover shows the seed and the judge's labels; clicks pin; typed seeds; bad seeds and queries get messages.
    page.locator("#grid").hover(position=cell(page, 9))
    until(page, "!document.querySelector('#tooltip').hidden")
    tip = page.inner_text("#tooltip")
    assert tip.startswith("seed 9") and "wall=" in tip
    for i in range(9):
        page.locator("#grid").click(position=cell(page, i))
    assert page.locator("#pinned .chip").count() == 9
    assert page.inner_text("#samples-cmd").endswith("--seeds 0-63")
    page.screenshot(path=str(shots / "samples.png"), full_page=True)
    old = version(page, "#grid")
    page.fill("#seeds", "100-163")
    page.click("#show-seeds")
    wait_new(page, "#grid", old)
    assert "--seeds 100-163" in page.inner_text("#samples-cmd")
    page.fill("#seeds", "4294967296")
    page.click("#show-seeds")
    assert "out of range" in message(page, "#samples-msg")
    page.fill("#query", "colour=red")
    page.click("#apply-query")
    until(page, "document.querySelector('#samples-msg').textContent.includes('colour')")
    assert "no factor 'colour'" in page.inner_text("#samples-msg")

    # Walk: a strip through the pinned samples; the slider morphs the large image.
    page.click("#tabs [data-panel=walk]")
    page.click("#walk-go")
    page.wait_for_selector("#walk-strip[data-state=ok]")
    page.wait_for_selector("#walk-frame[data-state=ok]")
    first = page.locator("#walk-frame").screenshot()
    old = version(page, "#walk-frame")
    page.locator("#walk-slider").fill("2.5")
    wait_new(page, "#walk-frame", old)
    assert page.locator("#walk-frame").screenshot() != first
    assert page.get_attribute("#walk-gif", "href").startswith("/api/walk.gif?seeds=0%2C1%2C2%2C3%2C4%2C5%2C6%2C7%2C8")
    page.screenshot(path=str(shots / "walk.png"), full_page=True)

    # Arithmetic: an empty slot is a message; filling A, B and C by dragging pins shows G(y) and the pixel baseline.
    page.click("#tabs [data-panel=arithmetic]")
    chips = page.locator("#pinned .chip")
    chips.nth(0).drag_to(page.locator(".slot[data-slot=a]"))
    assert "slot B is empty" in message(page, "#arith-msg")
    chips.nth(1).drag_to(page.locator(".slot[data-slot=a]"))
    chips.nth(2).drag_to(page.locator(".slot[data-slot=b]"))
    old = version(page, "#arith-result")
    chips.nth(3).drag_to(page.locator(".slot[data-slot=c]"))
    wait_new(page, "#arith-result", old)
    page.wait_for_selector("#arith-pixel[data-state=ok]")
    assert page.locator(".slot[data-slot=a] .chip").count() == 2
    assert "dcgan arithmetic" in page.inner_text("#arith-cmd") and "--a 0-1 --b 2 --c 3" in page.inner_text("#arith-cmd")
    page.screenshot(path=str(shots / "arithmetic.png"), full_page=True)

    # Direction: from/to groups by dragging; the slider moves the chosen pin along d, live.
    page.click("#tabs [data-panel=direction]")
    page.select_option("#dir-target", "8")
    for i in range(4):
        chips.nth(i).drag_to(page.locator(".slot[data-slot=from]"))
    chips.nth(4).drag_to(page.locator(".slot[data-slot=to]"))
    until(page, "document.querySelector('#dir-msg').textContent.includes('at least 4 samples in each group')")
    for i in range(5, 8):
        chips.nth(i).drag_to(page.locator(".slot[data-slot=to]"))
    page.wait_for_selector("#dir-image[data-state=ok]")
    shown = {}
    for scale in ("-2", "2"):
        old = version(page, "#dir-image")
        page.locator("#dir-slider").fill(scale)
        wait_new(page, "#dir-image", old)
        shown[scale] = page.locator("#dir-image").screenshot()
    assert shown["-2"] != shown["2"]
    assert "--from 0-3 --to 4-7 --seeds 8 --scales 0,2" in page.inner_text("#dir-cmd")
    page.screenshot(path=str(shots / "direction.png"), full_page=True)

    # Forget: the drop file given on the command line, the same seeds without and with; toggled on the Samples grid.
    page.click("#tabs [data-panel=forget]")
    page.wait_for_selector("#forget-after[data-state=ok]")
    page.wait_for_selector("#forget-before[data-state=ok]")
    assert page.locator("#forget-before").screenshot() != page.locator("#forget-after").screenshot()
    assert "--drop" in page.inner_text("#forget-cmd")
    page.screenshot(path=str(shots / "forget.png"), full_page=True)
    old = version(page, "#grid")
    page.check("#forget-toggle")
    wait_new(page, "#grid", old)
    assert "--drop" in page.inner_text("#samples-cmd")

    # Inside D: a unit's top real images and guided back-propagation maps, random D above trained D.
    page.click("#tabs [data-panel=inside]")
    page.fill("#vis-unit", "2")
    page.click("#vis-go")
    page.wait_for_selector("#vis-image[data-state=ok]", timeout=60_000)
    assert "--units 2" in page.inner_text("#vis-cmd")
    page.screenshot(path=str(shots / "inside.png"), full_page=True)

    assert page.errors == []
    assert sorted(p.name for p in shots.iterdir()) == ["arithmetic.png", "direction.png", "forget.png", "inside.png",
                                                        "samples.png", "walk.png"]
