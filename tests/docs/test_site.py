"""The documentation site builds offline with `mkdocs build --strict`, with no warning at all."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click

from taskmanager.cli import main

ROOT = Path(__file__).resolve().parents[2]
MKDOCS = str(Path(sys.executable).with_name("mkdocs"))


def command_paths(group: click.Group, prefix: str = "taskmanager") -> list[str]:
    paths = []
    for name, command in group.commands.items():
        paths.append(f"{prefix} {name}")
        if isinstance(command, click.Group):
            paths += command_paths(command, f"{prefix} {name}")
    return paths


def test_site_builds_strictly_without_warnings(tmp_path: Path) -> None:
    # The theme's notice about its future is not about these pages.
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [MKDOCS, "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output, output

    site = tmp_path / "site"
    # The changelog is CHANGELOG.md itself, included (not copied) into the site.
    changelog = (site / "changelog" / "index.html").read_text()
    assert "Keep a Changelog" in changelog and "Unreleased" in changelog
    # The CLI reference is generated from the click commands: every one of them is there.
    reference = (site / "cli-reference" / "index.html").read_text()
    missing = [path for path in command_paths(main) if path not in reference]
    assert not missing
    assert "--continue-on-error" in reference
    # The lock rule is written once (concepts.md) and included where locks are told about.
    for page in ("concepts", "walkthrough", "api"):
        html = (site / page / "index.html").read_text()
        assert "Taking a lock over is a separate, explicit request" in html, page
        assert "--8&lt;--" not in html and "--8<--" not in html, page


def test_no_example_uses_the_port_mkdocs_serve_takes() -> None:
    config = (ROOT / "mkdocs.yml").read_text()
    port = re.search(r"^dev_addr: [\d.]+:(\d+)$", config, re.MULTILINE)
    assert port is not None
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        lines = page.read_text().splitlines()
        for number, line in enumerate(lines):
            if re.search(rf"(?<![\d.]){port.group(1)}(?!\d)", line):
                # Only the sentences that send the reader to the documentation itself.
                said = " ".join(lines[max(number - 1, 0) : number + 1])
                assert "mkdocs" in said, (page.name, number + 1, line)
