"""The words stored in `status` columns: of tasks (and task groups) and of callback deliveries.

Task statuses are open: clients may write any word of up to 64 characters, and any status may
become any other (setting the same one changes nothing). The three every server knows have
rules: only `queued` tasks are dispensed (a `waiting` task becomes `queued` once the data it
waits for is there, services/tasks/waiting.py); becoming `done` records who and when, releases the
lock (TASKMAN_DONE_RELEASES_LOCK) and writes the callback (services/tasks/transitions.py);
becoming `aborted` aborts the group's tasks that are not closed yet (services/taskgroups/
completion.py). A task group's status follows its tasks: `done` when all are done, else
`aborted` when any is, else `queued`.

Deliveries move pending -> delivering (claimed by a worker) -> delivered, or back to pending
(to retry later), or failed once their attempts are used up; a delivering row whose claim
lapsed goes back to pending (or failed); only a failed delivery may be retried by hand (back
to pending).
"""

from __future__ import annotations

from enum import StrEnum


class TaskStatus(StrEnum):
    QUEUED = "queued"
    # Its data is not there yet (wait_for): neither assigned nor claimable until it is.
    WAITING = "waiting"
    DONE = "done"
    ABORTED = "aborted"


# Statuses after which a task needs nobody any more; every other status is open.
CLOSED_STATUSES = (TaskStatus.DONE, TaskStatus.ABORTED)
# What a task group's status can be (it follows its tasks; a group never waits).
TASKGROUP_STATUSES = (TaskStatus.QUEUED, TaskStatus.DONE, TaskStatus.ABORTED)


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    FAILED = "failed"
