"""The allocator setting (dcgan._alloc) is the toolkit's own processes' business, never an importer's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

IMPORT_THEN_CLI = """
import contextlib, io
import dcgan, dcgan.cli
from dcgan import _alloc
print(_alloc._applied)
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    dcgan.cli.main(["--version"])  # argparse exits after printing; main has applied the setting first
print(_alloc._applied)
"""


def _run(script: str, **env_extra: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "DCGAN_NO_MALLOPT"} | env_extra
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True).stdout.split()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_importing_dcgan_leaves_the_allocator_alone_and_the_cli_applies_it() -> None:
    assert _run(IMPORT_THEN_CLI) == ["False", "True"]
    assert _run(IMPORT_THEN_CLI, DCGAN_NO_MALLOPT="1") == ["False", "False"]  # the opt-out still holds


def test_the_trainer_applies_it_without_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dcgan.train
    from tests.test_train import tiny_run

    calls = []
    monkeypatch.setattr(dcgan.train, "apply_allocator_settings", lambda: calls.append(1))
    run_dir = dcgan.train.train(tiny_run(tmp_path, max_steps=1))
    dcgan.train.resume(run_dir, {"max_steps": 2})
    assert len(calls) == 2  # once on entering train(), once on entering resume()
