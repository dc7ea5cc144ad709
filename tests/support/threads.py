"""Run the same work in many threads at once, failing loudly if any thread failed."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any


def run_together(jobs: Sequence[tuple[Any, ...]], work: Callable[..., None]) -> None:
    """work(*job) in one thread per job; re-raise the first failure after all have ended."""
    failures: list[BaseException] = []

    def run(*args: Any) -> None:
        try:
            work(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
