"""The README's Python example runs as written, on a trained run folder (the shared tiny run instead of the demo's)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
DEMO_RUN = '"runs/00000-demo"'
OUT = '"out/walk"'
OUT_ARITHMETIC = '"out/arithmetic"'


def readme_python() -> str:
    """Return the README's one ```python block."""
    blocks = re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.S | re.M)
    assert len(blocks) == 1, f"the README should hold exactly one python block, found {len(blocks)}"
    return blocks[0]


def test_readme_example_runs_and_writes_what_it_says(trained, tmp_path) -> None:
    code = readme_python()
    assert DEMO_RUN in code and OUT in code and OUT_ARITHMETIC in code, "the example's folders changed: update this test"
    out = tmp_path / "out" / "walk"
    code = code.replace(DEMO_RUN, repr(str(trained.run_dir))).replace(OUT, repr(str(out)))
    code = code.replace(OUT_ARITHMETIC, repr(str(tmp_path / "out" / "arithmetic")))
    before = set(trained.run_dir.rglob("*"))
    scope: dict = {}
    exec(compile(code, str(README), "exec"), scope)  # noqa: S102 - the README's own example

    images, saved = scope["images"], scope["saved"]
    assert images.shape[0] == 16 and str(images.dtype) == "torch.uint8"
    assert set(trained.run_dir.rglob("*")) == before  # loading, sampling and walking wrote nothing
    assert saved.folder == out and saved.results == out / "results.json" and saved.results.is_file()
    assert saved.figures and all(f.is_file() and f.parent == out for f in saved.figures)
    assert {f.suffix for f in saved.figures} == {".png", ".gif"}
    assert (tmp_path / "out" / "arithmetic" / "figure.png").is_file()  # the arithmetic result, saved by the same writer
