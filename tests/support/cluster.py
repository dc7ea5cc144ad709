"""Several TaskManager instances behind a real load balancer (HAProxy, resources/haproxy/), with
`taskmanager worker` processes on RabbitMQ: the parts tests/scaleout/ starts, kills and counts."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import requests

from .callbacks import worker_process
from .servers import ChildProcess, ServerProcess, free_port, serve

HAPROXY_EXAMPLE = Path(__file__).parents[2] / "resources" / "haproxy" / "taskmanager.cfg"
AMQP_PORT = 5672
# Which instance answered: resources/haproxy/taskmanager.cfg sets it on every answer.
INSTANCE_HEADER = "X-TaskManager-Instance"


def render_haproxy(listen_port: int, instance_ports: Sequence[int]) -> str:
    """The example configuration with the test's ports in place of the example's, logging
    every request to standard output (the test's haproxy.log)."""
    text = HAPROXY_EXAMPLE.read_text()
    text = text.replace("\nglobal\n", "\nglobal\n    log stdout format raw local0\n", 1)
    text = text.replace("\ndefaults\n", "\ndefaults\n    log global\n    option httplog\n", 1)
    text, binds = re.subn(
        r"(?m)^(\s*bind )127\.0\.0\.1:\d+$", rf"\g<1>127.0.0.1:{listen_port}", text
    )
    servers = re.findall(r"(?m)^\s*server (\S+) 127\.0\.0\.1:\d+ check$", text)
    assert binds == 1 and len(servers) == len(instance_ports), "the example config changed"
    for name, port in zip(servers, instance_ports, strict=True):
        text = re.sub(
            rf"(?m)^(\s*server {name}) 127\.0\.0\.1:\d+", rf"\g<1> 127.0.0.1:{port}", text
        )
    return text


class LoadBalancer(ChildProcess):
    """HAProxy in the foreground on a free port, in front of `instance_ports`."""

    def __init__(self, haproxy: str, instance_ports: Sequence[int], cwd: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = cwd / "haproxy.cfg"
        config.write_text(render_haproxy(self.port, instance_ports))
        super().__init__([haproxy, "-db", "-f", str(config)], env={}, cwd=cwd, log_name="haproxy")

    def wait_listening(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"haproxy exited:\n{self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"haproxy not listening:\n{self.output()}")


class Cluster:
    """`count` gunicorn instances (own ports), `celery_workers` worker processes, HAProxy."""

    def __init__(
        self,
        env: dict[str, str],
        cwd: Path,
        *,
        haproxy: str,
        count: int = 3,
        workers_per_instance: int = 2,
        celery_workers: int = 2,
    ) -> None:
        self.env = env
        self.cwd = cwd
        self.workers_per_instance = workers_per_instance
        self.ports = [free_port() for _ in range(count)]
        self.instances: list[ServerProcess] = []
        self.workers: list[ChildProcess] = []
        self.balancer: LoadBalancer | None = None
        self._haproxy = haproxy
        self._celery_workers = celery_workers

    def start(self) -> Cluster:
        try:
            self.instances = [self._serve(port) for port in self.ports]
            self.workers = [self.start_worker(n) for n in range(self._celery_workers)]
            self.balancer = LoadBalancer(self._haproxy, self.ports, self.cwd)
            for instance in self.instances:
                instance.wait_ready()
            self.balancer.wait_listening()
            self.wait_balanced()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_balanced(self, timeout: float = 30.0) -> None:
        """Until the load balancer has answered from every instance (its health checks found
        them ready): requests before that would get its 503."""
        answered: set[str] = set()
        deadline = time.monotonic() + timeout
        while len(answered) < len(self.ports):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the balancer answered only from {answered}:\n{self.logs()}")
            try:
                with requests.get(f"{self.url}/-/ready", timeout=5) as response:
                    if response.status_code == 200:
                        answered.add(response.headers.get(INSTANCE_HEADER, ""))
                        continue
            except requests.RequestException:
                pass
            time.sleep(0.2)

    def _serve(self, port: int) -> ServerProcess:
        return serve(self.env, self.cwd, workers=self.workers_per_instance, port=port)

    def restart(self, index: int) -> ServerProcess:
        """Start instance `index` again on its port (after it was killed or stopped); the load
        balancer takes it back once it is ready."""
        self.instances[index].stop()
        self.instances[index] = self._serve(self.ports[index])
        return self.instances[index]

    def start_worker(self, number: int) -> ChildProcess:
        return worker_process(self.env, self.cwd, f"worker-{number}")

    def restart_worker(self, index: int) -> None:
        self.workers[index].stop()
        self.workers[index] = self.start_worker(index)

    @property
    def url(self) -> str:
        assert self.balancer is not None
        return self.balancer.url

    def processes(self) -> list[ChildProcess]:
        balancer = [self.balancer] if self.balancer else []
        return [*self.instances, *self.workers, *balancer]

    def stop(self) -> None:
        """Every process, whatever state it is in (each group is killed if it will not stop)."""
        for process in self.processes():
            process.signal(15)
        for process in self.processes():
            process.stop()

    def logs(self) -> str:
        return "\n".join(
            f"--- {process.log_path.name}\n{process.output()[-3000:]}"
            for process in self.processes()
        )


# -- RabbitMQ: the broker is shared, so only these processes' connections are closed ----------


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = fd.readlink().as_posix()
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    except OSError:
        pass  # the process ended
    return inodes


def amqp_client_ports(pids: Sequence[int]) -> set[int]:
    """The local ports of these processes' TCP connections to the broker's port."""
    inodes = set().union(*(_socket_inodes(pid) for pid in pids)) if pids else set()
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
            if state == "01" and int(remote.rsplit(":", 1)[1], 16) == AMQP_PORT and inode in inodes:
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


def close_amqp_connections(rabbitmqctl: str, pids: Sequence[int]) -> int:
    """`rabbitmqctl close_connection` for every connection these processes hold to RabbitMQ
    (found by their client port); how many were closed."""
    ports = amqp_client_ports(pids)
    listed = subprocess.run(
        [rabbitmqctl, "-q", "list_connections", "pid", "peer_port"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    closed = 0
    for line in listed.splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and parts[1].strip().isdigit() and int(parts[1]) in ports:
            subprocess.run(
                [rabbitmqctl, "-q", "close_connection", parts[0].strip(), "scale-out test"],
                capture_output=True,
                timeout=60,
                check=True,
            )
            closed += 1
    return closed
