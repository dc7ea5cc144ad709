"""Time `taskmanager add-task DIR` for a directory of task files against a real server.

    python -m benchmarks.cli_bulk_upload [--files 1000] [--runs 5] [--workers 4]
        [--database postgresql://postgres@127.0.0.1:5432/test]

Starts `taskmanager serve` (gunicorn) on a fresh database on that server, adds a template,
writes the files once, then runs the command (a new process each time, as a user would) into a
new project per run and prints each wall time and the median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from tests.support import databases
from tests.support.servers import TASKMANAGER, serve

TEMPLATE = "template_name: bench\nscans:\n  - label: T1\n  - label: FLAIR\n"


def write_files(directory: Path, count: int) -> None:
    directory.mkdir()
    for index in range(count):
        content = {
            "template": "bench",
            "name": f"session-{index:05d}",
            "scan_sources": {
                scan: f"http://xnat.example.org/data/{index}/{scan}.nii.gz"
                for scan in ("T1", "FLAIR")
            },
            "fields_file": f"results/{index}_{{timestamp}}.json",
        }
        (directory / f"task-{index:05d}.json").write_text(json.dumps(content))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/test")
    options = parser.parse_args()

    os.environ[databases.ENV_VAR] = options.database
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        url = databases.create_database(workdir)
        env = {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench",
            "SECURITY_PASSWORD_SALT": "bench",
            "TASKMAN_ADMIN_USERNAME": "admin",
            "TASKMAN_ADMIN_PASSWORD": "admin",
            "TASKMAN_ADMIN_EMAIL": "admin@example.org",
        }
        try:
            with serve(env, workdir, workers=options.workers) as server:
                with requests.post(
                    f"{server.url}/api/v1/task_templates",
                    json={"label": "bench", "content": TEMPLATE},
                    auth=("admin", "admin"),
                    timeout=30,
                ) as response:
                    response.raise_for_status()
                write_files(workdir / "tasks", options.files)
                times = []
                for run in range(options.runs):
                    command = [
                        TASKMANAGER, "add-task", str(workdir / "tasks"), "-p", f"bench-{run}",
                        "--url", server.url, "--user", "admin", "--password", "admin",
                    ]  # fmt: skip
                    started = time.perf_counter()
                    result = subprocess.run(command, capture_output=True, text=True, check=False)
                    elapsed = time.perf_counter() - started
                    if result.returncode != 0:
                        sys.exit(f"run {run} failed:\n{result.stdout}\n{result.stderr}")
                    times.append(elapsed)
                    print(f"run {run}: {elapsed:.2f} s  {result.stdout.strip()}")
        finally:
            databases.drop_database(url)
    print(
        f"{options.files} files, {options.workers} gunicorn workers, "
        f"{databases.backend_name()}: median {statistics.median(times):.2f} s "
        f"(min {min(times):.2f}, max {max(times):.2f}, {options.runs} runs)"
    )


if __name__ == "__main__":
    main()
