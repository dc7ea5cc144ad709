"""Digest mails: who gets one, what it lists, and at most one per user and UTC day."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from taskmanager.models import ReminderSent, Task, db
from taskmanager.services.tasks import reminders
from taskmanager.services.tasks.reminders import Digest, Line, Options, Outcome

from ...support.smtp import Inbox, smtp_server
from ...support.task_factories import make_group, make_task, make_template, make_user

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
OPTIONS = Options(base_url="https://tasks.example.org/tm", site_name="Brain Study")


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with smtp_server() as received:
        yield received


def smtp_mailer(inbox: Inbox) -> reminders.Mailer:
    def send(digest: Digest) -> None:
        message = EmailMessage()
        message["From"] = "taskmanager@example.org"
        message["To"] = digest.email
        message["Subject"] = digest.subject
        message.set_content(digest.text)
        message.add_alternative(digest.html, subtype="html")
        with smtplib.SMTP("127.0.0.1", inbox.port, timeout=10) as connection:
            connection.send_message(message)

    return send


def locked(task: Task, user: Any, since: datetime) -> Task:
    task.lock_id, task.lock_time = user.id, since
    return task


def build(session: Session) -> dict[str, Any]:
    """alice: one overdue task of hers, one locked by her too long; bob: one overdue task he
    locked. Everything else is not for a digest."""
    make_template(session)
    alice, bob = make_user(session, "alice"), make_user(session, "bob")
    gone = make_user(session, "gone", active=False)
    placeholder = make_user(session, "nomail")
    placeholder.email = "nomail@localhost"
    make_group(session, "team", [alice, bob])
    day = timedelta(days=1)
    overdue = make_task(session, users=["alice"], due=NOW - 2 * day, tracking_id="scan-1")
    held = locked(make_task(session, users=["alice"], project="p2"), alice, NOW - 3 * day)
    bobs = locked(
        make_task(session, groups=["team"], due=NOW - day), bob, NOW - timedelta(minutes=90)
    )
    make_task(session, users=["alice"], due=NOW + day)  # not due yet
    locked(make_task(session, users=["alice"]), alice, NOW - timedelta(hours=47))  # not long
    make_task(session, groups=["team"], due=NOW - day)  # a group's: nobody's own
    make_task(session, users=["alice"], due=NOW - day).status = "done"
    make_task(session, users=["alice"], due=NOW - day).status = "waiting"  # cannot be done yet
    make_task(session, users=["gone"], due=NOW - day)
    make_task(session, users=["nomail"], due=NOW - day)
    session.commit()
    return {
        "alice": alice,
        "bob": bob,
        "gone": gone,
        "overdue": overdue,
        "held": held,
        "bob's": bobs,
    }


def sent_rows(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(ReminderSent)) or 0)


def test_each_user_gets_one_mail_listing_their_tasks(session: Session, inbox: Inbox) -> None:
    world = build(session)
    results = reminders.send_all(session, NOW, smtp_mailer(inbox), dry_run=False, options=OPTIONS)

    assert [(r.digest.email, r.digest.summary, r.outcome) for r in results] == [
        ("alice@example.org", "1 overdue, 1 locked for 3 days", Outcome.SENT),
        ("bob@example.org", "1 overdue", Outcome.SENT),
    ]
    assert sorted(message["To"] for message in inbox.messages) == [
        "alice@example.org",
        "bob@example.org",
    ]
    (alice_mail,) = inbox.to("alice@example.org")
    assert alice_mail["Subject"] == "Brain Study: 1 overdue, 1 locked for 3 days"
    text = Inbox.text(alice_mail)
    overdue, held = world["overdue"].id, world["held"].id
    assert f"- Task {overdue} (proj, scan-1): due 2 days ago\n" in text
    assert f"  https://tasks.example.org/tm/tasks/{overdue}\n" in text
    assert f"- Task {held} (p2, unassigned): locked by you for 3 days\n" in text
    assert text.index(f"Task {overdue}") < text.index(f"Task {held}")  # overdue first
    assert text.count("- Task ") == 2
    assert f'<a href="https://tasks.example.org/tm/tasks/{held}">Task {held}</a>' in Inbox.html(
        alice_mail
    )
    (bob_mail,) = inbox.to("bob@example.org")
    bobs = world["bob's"].id
    assert f"- Task {bobs} (proj, unassigned): due 1 day ago, locked by you for 1 hour" in (
        Inbox.text(bob_mail)
    )
    stored = session.execute(
        select(ReminderSent.user_id, ReminderSent.day, ReminderSent.task_count)
    )
    assert sorted(tuple(row) for row in stored) == [
        (world["alice"].id, NOW.date(), 2),
        (world["bob"].id, NOW.date(), 1),
    ]


def test_a_second_run_the_same_day_sends_none_and_the_next_day_sends_again(
    session: Session, inbox: Inbox
) -> None:
    build(session)
    mailer = smtp_mailer(inbox)
    reminders.send_all(session, NOW, mailer, dry_run=False)
    assert len(inbox.messages) == 2

    later = reminders.send_all(session, NOW + timedelta(hours=14), mailer, dry_run=False)
    assert [result.outcome for result in later] == [Outcome.ALREADY_SENT] * 2
    assert len(inbox.messages) == 2

    tomorrow = reminders.send_all(session, NOW + timedelta(days=1), mailer, dry_run=False)
    assert [result.outcome for result in tomorrow] == [Outcome.SENT] * 2
    assert len(inbox.messages) == 4
    assert sent_rows(session) == 4


def test_a_dry_run_sends_and_stores_nothing(session: Session, inbox: Inbox) -> None:
    build(session)
    results = reminders.send_all(session, NOW, smtp_mailer(inbox), dry_run=True)
    assert [result.outcome for result in results] == [Outcome.WOULD_SEND] * 2
    assert inbox.messages == [] and sent_rows(session) == 0
    # ... and still says who was already reminded.
    reminders.send_all(session, NOW, smtp_mailer(inbox), dry_run=False)
    again = reminders.send_all(session, NOW, smtp_mailer(inbox), dry_run=True)
    assert [result.outcome for result in again] == [Outcome.ALREADY_SENT] * 2


def test_a_refused_mail_is_retried_by_a_later_run(session: Session, inbox: Inbox) -> None:
    build(session)
    inbox.refuse = True
    failed = reminders.send_all(session, NOW, smtp_mailer(inbox), dry_run=False)
    assert [result.outcome for result in failed] == [Outcome.FAILED] * 2
    assert failed[0].error is not None and "Refused by the test" in failed[0].error
    assert sent_rows(session) == 0

    inbox.refuse = False
    retried = reminders.send_all(session, NOW, smtp_mailer(inbox), dry_run=False)
    assert [result.outcome for result in retried] == [Outcome.SENT] * 2
    assert len(inbox.messages) == 2


def test_a_user_another_run_reminded_meanwhile_is_skipped(session: Session, inbox: Inbox) -> None:
    """The other run commits bob's row while this one is mailing alice: this run's insert of
    the same (user, day) fails, and bob gets one mail, the other run's."""
    world = build(session)
    send = smtp_mailer(inbox)

    def mail_while_another_run_claims_bob(digest: Digest) -> None:
        send(digest)
        with Session(db.engine) as other_run:
            other_run.add(ReminderSent(user_id=world["bob"].id, day=NOW.date(), sent_time=NOW))
            other_run.commit()

    results = reminders.send_all(session, NOW, mail_while_another_run_claims_bob, dry_run=False)
    assert [result.outcome for result in results] == [Outcome.SENT, Outcome.ALREADY_SENT]
    assert [message["To"] for message in inbox.messages] == ["alice@example.org"]
    assert sent_rows(session) == 2


def test_locked_hours_decides_what_is_held_too_long(session: Session) -> None:
    world = build(session)
    digests = reminders.collect(session, NOW, Options(locked_hours=72 + 1))
    assert [(d.username, d.summary) for d in digests] == [
        ("alice", "1 overdue"),
        ("bob", "1 overdue"),
    ]
    digests = reminders.collect(session, NOW, Options(locked_hours=1))
    assert [(d.username, d.summary) for d in digests] == [
        ("alice", "1 overdue, 2 locked for up to 3 days"),
        ("bob", "1 overdue, 1 locked for 1 hour"),
    ]
    assert world["held"].id in {line.task_id for line in digests[0].lines}


def test_a_long_digest_lists_fifty_tasks_and_counts_the_rest() -> None:
    lines = tuple(
        Line(
            task_id=number,
            project="p",
            tracking_id=f"t{number}",
            due=NOW - timedelta(days=1),
            lock_time=None,
            overdue=True,
            locked_long=False,
        )
        for number in range(1, 56)
    )
    digest = Digest(user_id=1, username="ann<b>", email="ann@example.org", lines=lines, now=NOW)
    assert digest.text.count("- Task ") == reminders.MAX_LINES
    assert "... and 5 more tasks." in digest.text and "https://" not in digest.text
    assert digest.html.count("<li>") == reminders.MAX_LINES
    assert "Hello ann&lt;b&gt;," in digest.html and "<a " not in digest.html
    assert digest.subject == "TaskManager: 55 overdue"
