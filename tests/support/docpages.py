"""Run a documentation page: its ```bash blocks as commands, its titled blocks as files.

A page is executable when its fenced blocks are of two kinds:

- ```bash (no title): commands the reader types, run in order in one bash session (so variables
  and functions set in one block are there in the next), with `set -euo pipefail`;
- any block with `title="NAME"` (```yaml title="team.yaml"): a file the reader writes, written
  to NAME in the working folder when the page reaches it.

Other blocks (```text, ```json, ...) are shown to the reader and not run.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shlex
import signal
import subprocess
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# A fence may be indented (a block inside a list item); its body loses that indentation.
FENCE = re.compile(
    r"^(?P<indent>[ ]*)```(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.DOTALL | re.MULTILINE,
)
TITLE = re.compile(r'title="(?P<title>[^"]+)"')
MARKER = "@@docpage block {} at $EPOCHREALTIME@@"
END_OF_FILE = "DOCPAGE_END_OF_FILE"


@dataclass(frozen=True)
class Block:
    index: int
    language: str
    body: str
    title: str | None = None

    @property
    def is_command(self) -> bool:
        return self.language == "bash" and self.title is None

    @property
    def is_file(self) -> bool:
        return self.title is not None


def blocks(markdown: str) -> list[Block]:
    """Every fenced block of the page, in order."""
    found = []
    for index, match in enumerate(FENCE.finditer(markdown)):
        info = match.group("info").strip()
        language = info.split()[0] if info else ""
        title = TITLE.search(info)
        body = (
            textwrap.dedent(match.group("body")) if match.group("indent") else match.group("body")
        )
        found.append(Block(index, language, body, title and title.group("title")))
    return found


def script(page: list[Block]) -> str:
    """The page as one bash script; each block announces itself on the output first."""
    lines = ["set -euo pipefail"]
    for block in page:
        if block.is_file:
            assert END_OF_FILE not in block.body
            lines += [
                f'echo "{MARKER.format(block.index)}"',
                f"cat > {shlex.quote(str(block.title))} <<'{END_OF_FILE}'",
                block.body.rstrip("\n"),
                END_OF_FILE,
            ]
        elif block.is_command:
            lines += [f'echo "{MARKER.format(block.index)}"', block.body.rstrip("\n")]
    return "\n".join(lines) + "\n"


@dataclass
class Transcript:
    """What a run printed, split by the block that printed it."""

    returncode: int
    output: str
    by_block: dict[int, str] = field(default_factory=dict)
    started: dict[int, float] = field(default_factory=dict)

    @property
    def last_block(self) -> int | None:
        return max(self.by_block) if self.by_block else None

    def seconds(self) -> dict[int, float]:
        """How long each block took (the last one up to the end of the run is left out)."""
        times = sorted(self.started.items())
        return {index: end - start for (index, start), (_, end) in itertools.pairwise(times)}


def split_output(output: str) -> tuple[dict[int, str], dict[int, float]]:
    """Each block's output, and the time it started."""
    by_block: dict[int, str] = {}
    started: dict[int, float] = {}
    current: int | None = None
    pattern = re.compile(r"^@@docpage block (\d+) at ([\d.,]+)@@$")
    for line in output.splitlines():
        match = pattern.match(line)
        if match:
            current = int(match.group(1))
            by_block[current] = ""
            started[current] = float(match.group(2).replace(",", "."))
        elif current is not None:
            by_block[current] += line + "\n"
    return by_block, started


def run(
    page: list[Block],
    *,
    cwd: Path,
    env: Mapping[str, str],
    name: str = "docpage",
    timeout: float = 180.0,
) -> Transcript:
    """Run the page's script with bash in `cwd` (kept as NAME.sh, its output as NAME.log);
    background processes it started are ended."""
    script_path = cwd / f"{name}.sh"
    script_path.write_text(script(page))
    log_path = cwd / f"{name}.log"
    # Output to a file, not a pipe: a process the page leaves in the background keeps no pipe
    # open. The page runs in its own process group, which is ended when it finishes.
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            ["bash", str(script_path)],
            cwd=cwd,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            returncode = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            returncode = -1
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    output = log_path.read_text(errors="replace")
    return Transcript(returncode, output, *split_output(output))


def describe_failure(page: list[Block], transcript: Transcript) -> str:
    """Which block failed, its text, and what it printed."""
    index = transcript.last_block
    block = next((b for b in page if b.index == index), None)
    source = block.body if block is not None else "(before the first block)"
    printed = transcript.by_block.get(index, transcript.output) if index is not None else ""
    return (
        f"the page stopped with exit code {transcript.returncode} in block {index}:\n"
        f"{source}\n--- it printed ---\n{printed[-4000:]}"
    )
