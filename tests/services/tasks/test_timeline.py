"""A project over time: done per day, tasks left per day, the estimate at the recent pace."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from taskmanager.services.tasks import dashboard, timeline

from ...web.seed import STUDY, seed, seed_study


def test_the_study_finishes_when_its_seeded_rate_says(session: Any) -> None:
    world = seed(session)
    study = seed_study(session)
    shown = timeline.project_timeline(session, viewer=world.admin, project=STUDY)
    assert shown is not None
    assert len(shown.days) == timeline.WINDOW_DAYS and shown.days[-1] == study.today
    # Two a day on the last 14 days, nothing before (days without work are 0).
    assert shown.done == [0] * 16 + [2] * 14
    assert shown.estimate.rate == study.rate == 2.0
    assert shown.estimate.open == study.open_tasks == 10
    assert shown.estimate.finish == study.finish == study.today + timedelta(days=5)
    # Left at the end of each day: none before the tasks were made 20 days ago, then all 38,
    # two fewer each day of the last 14.
    assert shown.left[:9] == [0] * 9
    assert shown.left[9:16] == [38] * 7
    assert shown.left[16:] == [38 - 2 * n for n in range(1, 15)]
    assert shown.progress.counts == {"done": 28, "queued": 10}
    counted = dashboard.summary(session, viewer=world.admin).projects
    estimates = timeline.project_estimates(session, viewer=world.admin, projects=counted)
    assert estimates[STUDY] == shown.estimate
    assert _counted_in_the_summary(session, world.admin, study.today) == estimates


def test_no_work_in_the_rate_window_gives_no_estimate(session: Any) -> None:
    world = seed(session)
    today = date(2026, 1, 15)
    shown = timeline.project_timeline(
        session, viewer=world.admin, project="heart-study", today=today
    )
    assert shown is not None
    assert shown.estimate.finish is None and shown.estimate.rate == 0 and shown.estimate.open == 2
    assert shown.done == [0] * timeline.WINDOW_DAYS


def test_estimates_round_up_to_whole_days() -> None:
    today = date(2026, 1, 15)
    assert timeline.estimate(open_tasks=3, done_in_rate_days=14, today=today).finish == date(
        2026, 1, 18
    )
    assert timeline.estimate(open_tasks=3, done_in_rate_days=28, today=today).finish == date(
        2026, 1, 17
    )
    finished = timeline.estimate(open_tasks=0, done_in_rate_days=0, today=today)
    assert finished.finished and finished.finish == today


def test_only_the_tasks_the_viewer_sees(session: Any) -> None:
    world = seed(session)
    seed_study(session)
    assert timeline.project_timeline(session, viewer=world.alice, project=STUDY) is None
    mine = timeline.project_timeline(session, viewer=world.alice, project="brain-study")
    assert mine is not None and mine.progress.total == 3
    counted = dashboard.summary(session, viewer=world.alice).projects
    estimates = timeline.project_estimates(session, viewer=world.alice, projects=counted)
    # Alice's one done task of brain-study was done today: 1 in 14 days, 2 open tasks.
    assert estimates == {
        "brain-study": timeline.estimate(
            open_tasks=2, done_in_rate_days=1, today=timeline.today_utc()
        )
    }
    assert _counted_in_the_summary(session, world.alice, timeline.today_utc()) == estimates
    assert timeline.project_timeline(session, viewer=world.admin, project="nothing") is None


def _counted_in_the_summary(session: Any, viewer: Any, today: date) -> dict[str, Any]:
    """The estimates from a summary that counted the recent done tasks itself (the dashboard's
    way): they must be those project_estimates gives."""
    counted = dashboard.summary(session, viewer=viewer, done_since=timeline.rate_start(today))
    return timeline.counted_estimates(counted.projects, today=today)
