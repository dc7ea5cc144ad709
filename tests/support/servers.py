"""Start a real TaskManager process (dev server or gunicorn) on a free 127.0.0.1 port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import requests

TASKMANAGER = str(Path(sys.executable).with_name("taskmanager"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ChildProcess:
    """A subprocess in its own process group, its output in a log file under `cwd`."""

    def __init__(
        self, args: Sequence[str], *, env: dict[str, str], cwd: Path, log_name: str
    ) -> None:
        self.log_path = cwd / f"{log_name}.log"
        # Appended: a process started again under the same name keeps the earlier log.
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        clean_env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TASKMAN_", "SQLALCHEMY_", "DB_", "SECRET_", "SECURITY_"))
        }
        self.process = subprocess.Popen(
            list(args),
            env={**clean_env, **env},
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        """Send `signum` to the whole process group (as systemd or Kubernetes would)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signum)

    def pids(self) -> list[int]:
        """The process ids of its process group (the master and, e.g., its workers)."""
        group = self.process.pid
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended meanwhile
            if int(fields[2]) == group:  # the process group id
                found.append(int(stat.parent.name))
        return found

    def kill(self) -> None:
        """kill -9 the whole process group (gunicorn master and workers)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


class ServerProcess(ChildProcess):
    """A server subprocess; `url` is its base URL. Use as a context manager."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        port: int,
        env: dict[str, str],
        cwd: Path,
        ready_timeout: float = 60.0,
    ) -> None:
        super().__init__(args, env=env, cwd=cwd, log_name=f"server-{port}")
        self.url = f"http://127.0.0.1:{port}"
        self._ready_timeout = ready_timeout

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self._ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.process.returncode}:\n{self.output()}"
                )
            try:
                with requests.get(f"{self.url}/-/ready", timeout=2) as response:
                    if response.status_code == 200:
                        return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"server not ready within {self._ready_timeout}s:\n{self.output()}")

    def __enter__(self) -> ServerProcess:
        try:
            self.wait_ready()
        except Exception:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(
    env: dict[str, str], cwd: Path, *, workers: int = 2, port: int | None = None
) -> ServerProcess:
    """`taskmanager serve` (gunicorn) with the given environment."""
    port = port or free_port()
    return ServerProcess(
        [
            TASKMANAGER,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        port=port,
        env=env,
        cwd=cwd,
    )


def start_until_serving(env: dict[str, str], command: str = "run") -> tuple[int, str]:
    """Start `taskmanager COMMAND` with the environment; stop it once it serves (or let it end
    by itself): its exit status and everything it printed."""
    output = ""
    with subprocess.Popen(
        [TASKMANAGER, command, "--port", str(free_port())],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            output += line
            if "Running on" in line:
                process.terminate()
        process.wait(timeout=30)
    return process.returncode, output
