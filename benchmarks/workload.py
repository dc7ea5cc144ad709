"""Measure a running TaskManager server through its REST API, with basic auth on every request.

    python -m benchmarks.workload http://127.0.0.1:8000 --password admin --server-pid 1234

Expects what `python -m benchmarks.seed` creates (template, group and users `bench`). Phases
run in this order so the read phases see exactly the seeded task count: one task, lock, list
pages (admin, user; deep ones by offset and by keyset), an export of every task, meta change, lock races, next-task claims, mark done, the web UI's progress
pages (dashboard, a project's page, a group's page, the task list, the activity feed; as the
admin, then as user bench00, each signed in once through the login form), ingest one by one,
ingest in bulk (POST /tasks with an array, and POST /taskgroups). Each prints the median and
90th percentile latency of its requests and the requests per second it reached; a phase whose
route the server does not have is reported as missing. With --server-pid, the resident memory
of the gunicorn workers is printed at the end.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import random
import re
import statistics
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

TEMPLATE = "bench"
GROUP = "bench"
PROJECT = "bench"  # the project benchmarks.seed puts its tasks in
USER_PASSWORD = "bench-pass"
# The policy claims' cap of open tasks per reader: above what the claim phases give each one.
POLICY_CAP = 400
BARRIER_TIMEOUT = 300  # a client that failed must not leave the others waiting forever


class MissingRoute(Exception):
    """The server answered 404/405 without a domain error body: it has no such route."""


@dataclass
class Result:
    phase: str
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    note: str = ""
    missing: bool = False

    def row(self) -> str:
        if self.missing:
            return f"| {self.phase} | - | - | - | - | route missing |"
        lat = sorted(self.latencies)
        median = statistics.median(lat) * 1000
        p90 = lat[int(len(lat) * 0.9) - 1 if len(lat) >= 10 else -1] * 1000
        rate = len(lat) / self.elapsed if self.elapsed else 0.0
        return (
            f"| {self.phase} | {len(lat)} | {median:.1f} | {p90:.1f} | {rate:.0f} | {self.note} |"
        )


@dataclass
class Answer:
    """What a call answered (the bits of a response the phases read)."""

    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class Client:
    """One keep-alive HTTP connection sending basic credentials on every request.

    Plain http.client rather than requests: the load generator shares the machine with the
    server, and every millisecond of client CPU is one the server does not get.
    """

    def __init__(self, base_url: str, username: str, password: str) -> None:
        url = urlsplit(base_url.rstrip("/"))
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.base = url.path + "/api/v1"
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}
        self.username = username
        self.connection: http.client.HTTPConnection | None = None

    def _send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> Answer:
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=120)
        self.connection.request(method, self.base + path, body=body, headers=headers)
        response = self.connection.getresponse()
        return Answer(response.status, response.read())

    def call(
        self,
        method: str,
        path: str,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[float, Answer]:
        headers = {**self.headers, **(headers or {})}
        body = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            started = time.perf_counter()
            try:
                response = self._send(method, path, body, headers)
                break
            except (http.client.HTTPException, ConnectionError):
                # The server closed an idle keep-alive connection as we reused it: once more.
                if self.connection is not None:
                    self.connection.close()
                self.connection = None
                if attempt == 2:
                    raise
        took = time.perf_counter() - started
        if response.status_code in (404, 405):
            try:
                answer = response.json()
            except ValueError:
                answer = {}
            if "errors" not in answer and "error" not in answer:
                raise MissingRoute(path)
        return took, response

    def expect(
        self, method: str, path: str, *statuses: int, json_body: Any = None
    ) -> tuple[float, Any]:
        took, response = self.call(method, path, json_body)
        if response.status_code not in statuses:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return took, response.json() if response.content else None


class WebClient:
    """One keep-alive connection to the web UI with a signed-in session (its cookies).

    Signs in once through the login form (GET /login for the CSRF token, then POST), as a
    browser does; every page after that sends the session cookie only.
    """

    CSRF = re.compile(
        r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"'
    )

    def __init__(self, base_url: str, username: str, password: str) -> None:
        url = urlsplit(base_url.rstrip("/"))
        self.host, self.port, self.root = url.hostname or "127.0.0.1", url.port or 80, url.path
        self.cookies: dict[str, str] = {}
        self.connection: http.client.HTTPConnection | None = None
        self.log_in(username, password)

    def _send(self, method: str, path: str, body: bytes | None = None, **headers: str) -> Answer:
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=120)
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.connection.request(method, self.root + path, body=body, headers=headers)
        response = self.connection.getresponse()
        for cookie in response.msg.get_all("Set-Cookie") or []:
            name, _, rest = cookie.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return Answer(response.status, response.read())

    def log_in(self, username: str, password: str) -> None:
        form = self._send("GET", "/login")
        match = self.CSRF.search(form.text)
        if match is None:
            raise RuntimeError(f"GET /login: no CSRF token ({form.status_code})")
        body = urlencode(
            {
                "identity": username,
                "password": password,
                "csrf_token": match.group(1) or match.group(2),
            }
        ).encode()
        answer = self._send(
            "POST", "/login", body, **{"Content-Type": "application/x-www-form-urlencoded"}
        )
        if answer.status_code != 302:
            raise RuntimeError(f"POST /login: {answer.status_code} {answer.text[:300]}")

    def page(self, path: str) -> float:
        """GET a page that must answer 200; the seconds it took."""
        started = time.perf_counter()
        answer = self._send("GET", path)
        took = time.perf_counter() - started
        if answer.status_code in (404, 405):
            raise MissingRoute(path)
        if answer.status_code != 200:
            raise RuntimeError(f"GET {path}: {answer.status_code} {answer.text[:300]}")
        return took


def run_parallel(workers: int, work: Callable[[int], Iterable[float]]) -> tuple[list[float], float]:
    """Run work(i) in `workers` threads started together; their latencies and the wall time."""
    latencies: list[float] = []
    failures: list[BaseException] = []
    barrier = threading.Barrier(workers + 1)

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=BARRIER_TIMEOUT)
            latencies.extend(work(index))
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=BARRIER_TIMEOUT)
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise failures[0]
    return latencies, elapsed


class Workload:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.admin = Client(args.base_url, args.user, args.password)
        self.users = [
            Client(args.base_url, f"bench{n:02}", USER_PASSWORD) for n in range(args.clients)
        ]
        self.results: list[Result] = []
        self.web_clients: dict[str, WebClient] = {}
        self.claimed: list[tuple[Client, int]] = []
        self.policy_claimed: list[tuple[Client, int]] = []

    # -- helpers ----------------------------------------------------------------------------

    def phase(self, name: str, body: Callable[[Result], None]) -> None:
        if self.args.only and not name.startswith(tuple(self.args.only)):
            return
        result = Result(name)
        try:
            body(result)
        except MissingRoute as exc:
            result.missing, result.note = True, str(exc)
        self.results.append(result)
        print(result.row(), flush=True)

    def sequential(self, result: Result, count: int, one: Callable[[int], float]) -> None:
        """`count` requests one after the other, or fewer (at least 10) when they take longer
        than --phase-seconds: a slow deep page at a million tasks must not take the hour."""
        started = time.perf_counter()
        for i in range(count):
            result.latencies.append(one(i))
            if i >= 9 and time.perf_counter() - started > self.args.phase_seconds:
                result.note = f"stopped after {self.args.phase_seconds:.0f} s"
                break
        result.elapsed = time.perf_counter() - started

    def task_ids(self, count: int) -> list[int]:
        """Ids of queued, unlocked seeded tasks, from the middle of the id range."""
        try:
            _took, page = self.admin.expect(
                "GET", f"/tasks?limit={count}&offset={self.args.tasks // 2}&project=bench", 200
            )
            return [int(task["id"]) for task in page["tasks"]]
        except MissingRoute:
            # No list route (yet): a freshly seeded database numbers its tasks 1..N.
            return list(range(self.args.tasks // 2 + 1, self.args.tasks // 2 + 1 + count))

    def warm_up(self) -> None:
        """Every client authenticates with every worker before timing (the slow hash check).

        Fresh connections, so that the requests spread over the workers; during the phases each
        client keeps its connection (and so its worker) as a real client would.
        """
        clients = [*self.users, self.admin]
        run_parallel(
            len(clients),
            lambda i: [
                clients[i].call("GET", "/users/1", headers={"Connection": "close"})[0]
                for _ in range(self.args.workers * 5)
            ],
        )

    # -- phases -----------------------------------------------------------------------------

    def get_task(self, result: Result) -> None:
        ids = self.task_ids(200)
        self.sequential(
            result,
            self.args.samples,
            lambda i: self.admin.expect("GET", f"/tasks/{ids[i % len(ids)]}", 200)[0],
        )

    def get_lock(self, result: Result) -> None:
        ids = self.task_ids(200)
        self.sequential(
            result,
            self.args.samples,
            lambda i: self.admin.expect("GET", f"/tasks/{ids[i % len(ids)]}/lock", 200)[0],
        )

    def list_page(
        self, client: Client, offset: int, keyset: bool = False
    ) -> Callable[[Result], None]:
        """Pages of 50 from `offset` (or, keyset, after the task whose id is `offset`: a freshly
        seeded database numbers its tasks 1..N)."""

        def body(result: Result) -> None:
            path = f"/tasks?limit=50&{'after' if keyset else 'offset'}={offset}"
            self.sequential(
                result, self.args.samples, lambda _i: client.expect("GET", path, 200)[0]
            )

        return body

    def export(self, result: Result) -> None:
        """Every task as NDJSON, one request read as it streams; the workers' largest resident
        memory, sampled meanwhile, goes into the note."""
        peak: list[float] = [0.0]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.2):
                if self.args.server_pid:
                    peak[0] = max([peak[0], *worker_rss(self.args.server_pid)])

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        try:
            rows = stream_lines(self.admin, "/tasks/export?format=ndjson")
        finally:
            done.set()
            sampler.join()
        result.elapsed = time.perf_counter() - started
        result.latencies = [result.elapsed]
        result.note = f"{rows} rows in {result.elapsed:.1f} s; worker peak RSS {peak[0]:.0f} MB"

    def meta_change(self, result: Result) -> None:
        took, response = self.admin.call("GET", "/meta/BENCH_HOST")
        if response.status_code == 404:
            self.admin.expect(
                "POST", "/meta", 201, json_body={"label": "BENCH_HOST", "value": "http://a"}
            )
        self.sequential(
            result,
            self.args.samples // 4,
            lambda i: self.admin.expect(
                "PUT", "/meta/BENCH_HOST", 200, json_body={"value": f"http://bench-{i}.example"}
            )[0],
        )

    def lock_races(self, result: Result) -> None:
        contenders = 4
        teams = len(self.users) // contenders
        ids = self.task_ids(self.args.races)
        barriers = [threading.Barrier(contenders) for _ in range(teams)]
        winners: dict[int, list[str]] = {task_id: [] for task_id in ids}

        def client(index: int) -> list[float]:
            team, me = index // contenders, self.users[index]
            latencies = []
            for task_id in ids[team::teams]:
                barriers[team].wait(timeout=BARRIER_TIMEOUT)
                took, response = me.call("PUT", f"/tasks/{task_id}/lock")
                if response.status_code == 200:
                    winners[task_id].append(me.username)
                elif response.status_code != 409:
                    raise RuntimeError(f"lock: {response.status_code} {response.text[:200]}")
                latencies.append(took)
            return latencies

        result.latencies, result.elapsed = run_parallel(teams * contenders, client)
        bad = [task_id for task_id, names in winners.items() if len(names) != 1]
        result.note = f"{len(ids)} races of {contenders}; " + (
            "one winner each" if not bad else f"{len(bad)} races without exactly one winner!"
        )

    def claims_with_policy(self, result: Result) -> None:
        """Claims while project `bench` has a policy: no reader gets two reads of one case
        (the seed gives each case two tasks) and a cap of open tasks per reader (high enough
        that it is checked on every claim without stopping the run)."""
        rules = {"distinct_readers": True, "max_open_per_user": POLICY_CAP}
        self.admin.expect("PUT", "/projects/bench/policy", 200, json_body=rules)
        try:
            self.claim_round(result, self.policy_claimed)
        finally:
            lifted = {"distinct_readers": False, "max_open_per_user": None}
            self.admin.expect("PUT", "/projects/bench/policy", 200, json_body=lifted)

    def claims(self, result: Result) -> None:
        self.claim_round(result, self.claimed)

    def claim_round(self, result: Result, claimed: list[tuple[Client, int]]) -> None:
        per_client = self.args.claims // len(self.users)

        def client(index: int) -> list[float]:
            me, latencies = self.users[index], []
            for _ in range(per_client):
                took, response = me.call("POST", "/tasks/next")
                if response.status_code == 200:
                    claimed.append((me, int(response.json()["id"])))
                elif response.status_code != 204:
                    raise RuntimeError(f"claim: {response.status_code} {response.text[:200]}")
                latencies.append(took)
            return latencies

        result.latencies, result.elapsed = run_parallel(len(self.users), client)
        ids = [task_id for _client, task_id in claimed]
        duplicates = len(ids) - len(set(ids))
        result.note = f"{len(self.users)} clients; " + (
            "no task handed out twice" if not duplicates else f"{duplicates} DUPLICATES!"
        )

    def mark_done(self, result: Result) -> None:
        claimed = self.claimed[: self.args.samples * 4]
        if not claimed:
            raise MissingRoute("/tasks/next (nothing claimed)")
        by_client: dict[str, list[tuple[Client, int]]] = {}
        for client, task_id in claimed:
            by_client.setdefault(client.username, []).append((client, task_id))
        batches = list(by_client.values())

        def client(index: int) -> list[float]:
            return [
                me.expect("PUT", f"/tasks/{task_id}", 200, json_body={"status": "done"})[0]
                for me, task_id in batches[index]
            ]

        result.latencies, result.elapsed = run_parallel(len(batches), client)
        result.note = f"{len(batches)} clients, each their claimed tasks"

    def web_client(self, role: str) -> WebClient:
        """The signed-in web session of a role (signed in on first use): the admin, or the
        first benchmark user, who sees every seeded task through group `bench` and, after
        benchmarks.progress_seed, some of them directly too."""
        if role not in self.web_clients:
            username, password = (
                (self.args.user, self.args.password)
                if role == "admin"
                else (self.users[0].username, USER_PASSWORD)
            )
            self.web_clients[role] = WebClient(self.args.base_url, username, password)
        return self.web_clients[role]

    def web_page(self, role: str, path: Callable[[], str]) -> Callable[[Result], None]:
        """A web page, GET one after another by the role's signed-in session (samples / 4
        times)."""

        def body(result: Result) -> None:
            web = self.web_client(role)
            shown = path()
            web.page(shown)  # the first request of a page loads its templates
            self.sequential(result, max(self.args.samples // 4, 10), lambda _i: web.page(shown))
            result.note = shown

        return body

    def web_phases(self, role: str) -> None:
        """The progress pages and the activity feed, as the role sees them."""
        pages: list[tuple[str, Callable[[], str]]] = [
            ("dashboard", lambda: "/"),
            ("project page", lambda: f"/projects/{quote(PROJECT)}"),
            ("group page", self.bench_group_page),
            ("task list", lambda: "/tasks"),
            ("activity", lambda: "/activity"),
        ]
        for name, path in pages:
            self.phase(f"web: {name} ({role})", self.web_page(role, path))

    def bench_group_page(self) -> str:
        _took, group = self.admin.expect("GET", f"/groups/{GROUP}", 200)
        return f"/groups/{group['id']}"

    def new_task(self, n: int) -> dict[str, Any]:
        return {
            "project": "bench-ingest",
            "template": TEMPLATE,
            "content": {"scan_sources": {"T1": f"$BENCH_HOST/new/{n}"}},
            "groups": [GROUP],
            "tags": ["bench"],
        }

    def ingest_single(self, result: Result) -> None:
        self.sequential(
            result,
            self.args.ingest,
            lambda i: self.admin.expect("POST", "/tasks", 201, json_body=self.new_task(i))[0],
        )

    def ingest_bulk(self, path: str, wrap: Callable[[list[Any]], Any]) -> Callable[[Result], None]:
        def body(result: Result) -> None:
            tasks = [self.new_task(i) for i in range(self.args.bulk)]
            took, _ = self.admin.expect("POST", path, 201, json_body=wrap(tasks))
            result.latencies, result.elapsed = [took], took
            result.note = f"{self.args.bulk} tasks in {took:.2f} s"

        return body

    def run(self) -> None:
        print(f"# {self.args.base_url}, {self.args.tasks} tasks seeded, {len(self.users)} clients")
        probe_before = machine_probe()
        print("| phase | requests | median ms | p90 ms | req/s | note |")
        print("|---|---|---|---|---|---|")
        self.warm_up()
        user = self.users[0]
        self.phase("GET one task", self.get_task)
        self.phase("GET lock", self.get_lock)
        self.phase("list page 1 (admin)", self.list_page(self.admin, 0))
        self.phase("list page deep (admin)", self.list_page(self.admin, self.args.tasks // 2))
        self.phase("list page 1 (user)", self.list_page(user, 0))
        self.phase("list page deep (user)", self.list_page(user, self.args.tasks // 2))
        middle = self.args.tasks // 2
        self.phase("list page deep keyset (admin)", self.list_page(self.admin, middle, True))
        self.phase("list page deep keyset (user)", self.list_page(user, middle, True))
        self.phase("export NDJSON (admin)", self.export)
        self.phase("meta change", self.meta_change)
        self.phase("lock races (32 clients)", self.lock_races)
        self.phase("next-task claims (32 clients)", self.claims)
        self.phase("mark done", self.mark_done)
        self.phase("next-task claims, policy (32 clients)", self.claims_with_policy)
        self.web_phases("admin")
        self.web_phases("user")
        self.phase("ingest one by one", self.ingest_single)
        self.phase("ingest bulk POST /tasks", self.ingest_bulk("/tasks", lambda tasks: tasks))
        self.phase(
            "ingest bulk POST /taskgroups",
            self.ingest_bulk("/taskgroups", lambda tasks: {"label": "bench", "tasks": tasks}),
        )
        if self.args.server_pid:
            print(f"\nworker RSS (MB): {worker_rss(self.args.server_pid)}")
        print(
            f"\nmachine probe (fixed CPU work, ms; larger is a slower machine): "
            f"{probe_before} before, {machine_probe()} after"
        )


def stream_lines(client: Client, path: str) -> int:
    """GET `path` on a connection of its own and count the lines of the answer as they arrive
    (never holding the whole body)."""
    connection = http.client.HTTPConnection(client.host, client.port, timeout=600)
    try:
        connection.request("GET", client.base + path, headers=client.headers)
        response = connection.getresponse()
        if response.status in (404, 405):
            raise MissingRoute(path)
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {response.read(300)!r}")
        lines = 0
        while chunk := response.read(1 << 16):
            lines += chunk.count(b"\n")
        return lines
    finally:
        connection.close()


def machine_probe() -> float:
    """Milliseconds for a fixed piece of pure-Python work, the best of three.

    This machine's speed drifts (it shares its host); the probe before and after a run says how
    fast it was then, so that runs at different times can be told apart.
    """
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        sum(i * i for i in range(2_000_000))
        timings.append(time.perf_counter() - started)
    return round(min(timings) * 1000, 1)


def worker_rss(master_pid: int) -> list[float]:
    """Resident memory of the master's child processes (the gunicorn workers), in MB."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    sizes = []
    for pid in children:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(round(int(line.split()[1]) / 1024, 1))
    return sizes


def wait_until_ready(base_url: str, timeout: float = 120.0) -> None:
    """Poll /-/ready until the server (just started, perhaps migrating) answers 200."""
    url = urlsplit(base_url.rstrip("/"))
    deadline = time.monotonic() + timeout
    while True:
        connection = http.client.HTTPConnection(
            url.hostname or "127.0.0.1", url.port or 80, timeout=5
        )
        try:
            connection.request("GET", url.path + "/-/ready")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        if time.monotonic() > deadline:
            raise SystemExit(f"{base_url} did not become ready within {timeout:.0f} s")
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url", help="server root, e.g. http://127.0.0.1:8000")
    parser.add_argument("--user", default="admin", help="an admin account (default admin)")
    parser.add_argument("--password", required=True, help="its password")
    parser.add_argument("--tasks", type=int, required=True, help="tasks seeded (for offsets)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (32)")
    parser.add_argument("--workers", type=int, default=4, help="server worker processes (4)")
    parser.add_argument("--samples", type=int, default=300, help="requests per latency phase")
    parser.add_argument(
        "--phase-seconds",
        type=float,
        default=60.0,
        help="a sequential phase stops after this long, having made at least 10 requests (60)",
    )
    parser.add_argument("--races", type=int, default=1000, help="lock races (1000)")
    parser.add_argument("--claims", type=int, default=3200, help="claim requests (3200)")
    parser.add_argument("--ingest", type=int, default=1000, help="tasks created one by one")
    parser.add_argument("--bulk", type=int, default=10_000, help="tasks per bulk request")
    parser.add_argument("--server-pid", type=int, help="gunicorn master pid, to report RSS")
    parser.add_argument(
        "--only",
        action="append",
        metavar="PREFIX",
        help="run only the phases whose name starts so (repeatable), e.g. --only web:",
    )
    args = parser.parse_args()
    random.seed(1)
    wait_until_ready(args.base_url)
    Workload(args).run()


if __name__ == "__main__":
    main()
