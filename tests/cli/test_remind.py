"""`taskmanager remind`: a dry run by default, one mail per user and day with --send."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from taskmanager.cli import main
from taskmanager.models import ReminderSent, utcnow

from ..conftest import make_env
from ..support.smtp import Inbox, smtp_server
from ..support.task_factories import make_task, make_template, make_user


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with smtp_server() as received:
        yield received


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    """alice has an overdue task and one she has held locked for three days; bob nothing."""
    make_template(session)
    alice = make_user(session, "alice")
    make_user(session, "bob")
    now = utcnow()
    overdue = make_task(session, users=["alice"], due=now - timedelta(days=1), tracking_id="s1")
    held = make_task(session, users=["bob"], project="p2")
    held.lock_id, held.lock_time = alice.id, now - timedelta(days=3, hours=1)
    make_task(session, users=["bob"], due=now + timedelta(days=1))
    session.commit()
    return {"overdue": overdue.id, "held": held.id}


def remind(
    database_url: str, tmp_path: Path, *args: str, inbox: Inbox | None = None, **extra: str
) -> Result:
    mail = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(inbox.port)} if inbox else {}
    env = make_env(database_url, tmp_path / "instance", **mail, **extra)
    return CliRunner().invoke(main, ["remind", *args], env=env)


def reminded(session: Session) -> int:
    session.rollback()
    return int(session.scalar(select(func.count()).select_from(ReminderSent)) or 0)


def test_a_dry_run_lists_what_it_would_send_and_sends_nothing(
    session: Session, world: dict[str, Any], database_url: str, tmp_path: Path, inbox: Inbox
) -> None:
    result = remind(database_url, tmp_path, inbox=inbox)
    assert result.exit_code == 0, result.output
    assert result.output == (
        "alice@example.org: 1 overdue, 1 locked for 3 days — would send\n"
        "Dry run: 1 mail would be sent. Nothing was sent; --send sends.\n"
    )
    assert inbox.messages == [] and reminded(session) == 0


def test_send_mails_each_user_once_a_day(
    session: Session, world: dict[str, Any], database_url: str, tmp_path: Path, inbox: Inbox
) -> None:
    external = {"TASKMAN_EXTERNAL_URL": "https://tasks.example.org/tm/"}
    result = remind(database_url, tmp_path, "--send", inbox=inbox, **external)
    assert result.exit_code == 0, result.output
    assert result.output == (
        "alice@example.org: 1 overdue, 1 locked for 3 days — sent\nTotal: 1 mail sent.\n"
    )
    (mail,) = inbox.messages
    assert mail["To"] == "alice@example.org"
    assert mail["Subject"] == "TaskManager: 1 overdue, 1 locked for 3 days"
    text = Inbox.text(mail)
    assert f"- Task {world['overdue']} (proj, s1): due 1 day ago\n" in text
    assert f"- Task {world['held']} (p2, unassigned): locked by you for 3 days\n" in text
    link = f"https://tasks.example.org/tm/tasks/{world['held']}"
    assert f"  {link}\n" in text and f'<a href="{link}">' in Inbox.html(mail)

    again = remind(database_url, tmp_path, "--send", inbox=inbox)
    assert again.exit_code == 0, again.output
    assert again.output == (
        "alice@example.org: 1 overdue, 1 locked for 3 days — already reminded today\n"
        "Total: 1 user already reminded today.\n"
    )
    assert len(inbox.messages) == 1

    # Yesterday's digest does not hold back today's.
    session.execute(update(ReminderSent).values(day=utcnow().date() - timedelta(days=1)))
    session.commit()
    assert remind(database_url, tmp_path, "--send", inbox=inbox).exit_code == 0
    assert len(inbox.messages) == 2 and reminded(session) == 2


def test_locked_hours_leaves_out_shorter_locks(
    world: dict[str, Any], database_url: str, tmp_path: Path
) -> None:
    result = remind(database_url, tmp_path, "--locked-hours", "100")
    assert result.output.splitlines()[0] == "alice@example.org: 1 overdue — would send"
    by_setting = remind(database_url, tmp_path, TASKMAN_REMIND_LOCKED_HOURS="100")
    assert by_setting.output == result.output
    refused = remind(database_url, tmp_path, "--locked-hours", "0")
    assert refused.exit_code == 2 and "--locked-hours" in refused.output


def test_send_without_a_mail_server_says_which_variable_to_set(
    session: Session, world: dict[str, Any], database_url: str, tmp_path: Path
) -> None:
    result = remind(database_url, tmp_path, "--send")
    assert result.exit_code == 1
    assert result.output == (
        "Error: No mail server is configured: set MAIL_SERVER to send (or leave out --send)\n"
    )
    assert reminded(session) == 0


def test_a_refused_mail_fails_the_run_and_is_not_recorded(
    session: Session, world: dict[str, Any], database_url: str, tmp_path: Path, inbox: Inbox
) -> None:
    inbox.refuse = True
    result = remind(database_url, tmp_path, "--send", inbox=inbox)
    assert result.exit_code == 1
    first, total = result.output.splitlines()
    assert first.startswith("alice@example.org: 1 overdue, 1 locked for 3 days — not sent: ")
    assert "Refused by the test" in first and total == "Total: 1 mail not sent."
    assert reminded(session) == 0
