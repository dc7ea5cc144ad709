"""Configuration kept in a git repository (PROJECT_REPO): fetched and loaded at start-up."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from taskmanager.models import Group, Role, Tag, TaskTemplate, User
from taskmanager.services.kit.errors import InvalidInput
from taskmanager.services.projects import project_config, project_repo

from ...conftest import make_env
from ...support.gitrepo import TEMPLATE, commit_file, make_project_repo


def repo_settings(settings: Any, tmp_path: Path, repo: Path, **changes: Any) -> Any:
    values = {
        "instance_path": tmp_path / "instance",
        "project_repo": str(repo),
        "project_branch": "study",
        **changes,
    }
    return settings.model_copy(update=values)


def template(session: Any, label: str) -> TaskTemplate | None:
    return session.scalars(select(TaskTemplate).where(TaskTemplate.label == label)).first()


def test_config_and_templates_are_loaded_then_kept_up_to_date(
    session: Any, settings: Any, tmp_path: Path
) -> None:
    repo = make_project_repo(tmp_path / "repo")
    own = repo_settings(settings, tmp_path, repo)

    counts = project_config.load_from_repository(session, own)
    assert counts == {
        "roles created": 1,
        "users created": 1,
        "groups created": 1,
        "tags created": 1,
        "templates created": 1,
    }
    assert template(session, "landmarks").content == TEMPLATE
    reader = session.scalars(select(User).where(User.username == "reader")).one()
    assert [role.name for role in reader.roles] == ["user"]
    group = session.scalars(select(Group).where(Group.groupname == "readers")).one()
    assert [user.username for user in group.users] == ["reader"]
    assert session.scalars(select(Tag.name)).all() == ["brain"]
    annotator = session.scalars(select(Role).where(Role.name == "annotator")).one()
    assert set(annotator.permissions) == {"task_read", "task_update_status", "user_read"}

    # A later start: templates follow the repository; existing accounts are left alone.
    reader.name = "Renamed Locally"
    session.commit()
    changed = TEMPLATE + "  - label: t2\n"
    commit_file(repo, "templates/landmarks.yaml", changed)
    assert project_config.load_from_repository(session, own) == {"templates updated": 1}
    assert template(session, "landmarks").content == changed
    assert session.get(User, reader.id).name == "Renamed Locally"
    assert project_config.load_from_repository(session, own) == {"templates unchanged": 1}


def test_relative_path_and_branch_select_the_config(
    session: Any, settings: Any, tmp_path: Path
) -> None:
    repo = make_project_repo(tmp_path / "repo", subdir="studies/brain", branch="main")
    own = repo_settings(
        settings, tmp_path, repo, project_branch="main", project_relative_path="studies/brain"
    )
    project_config.load_from_repository(session, own)
    assert template(session, "landmarks") is not None

    escaping = own.model_copy(update={"project_relative_path": "../.."})
    with pytest.raises(project_repo.ProjectRepoError, match="leaves the repository"):
        project_config.load_from_repository(session, escaping)
    missing = own.model_copy(update={"project_relative_path": "studies"})
    with pytest.raises(project_repo.ProjectRepoError, match="no config file"):
        project_config.load_from_repository(session, missing)


def test_unreachable_repository(session: Any, settings: Any, tmp_path: Path) -> None:
    repo = make_project_repo(tmp_path / "repo")
    own = repo_settings(settings, tmp_path, repo)
    gone = own.model_copy(update={"project_repo": str(tmp_path / "nowhere")})
    with pytest.raises(project_repo.ProjectRepoError, match="git clone failed"):
        project_config.load_from_repository(session, gone)
    assert not project_repo.checkout_path(own).exists()

    # With an earlier checkout, start-up goes on with it.
    project_config.load_from_repository(session, own)
    shutil.rmtree(repo)
    assert project_config.load_from_repository(session, own) == {"templates unchanged": 1}


def test_a_template_without_name_is_refused(session: Any, settings: Any, tmp_path: Path) -> None:
    repo = make_project_repo(tmp_path / "repo")
    commit_file(repo, "templates/landmarks.yaml", "scans: []\n")
    with pytest.raises(InvalidInput, match="template_name"):
        project_config.load_from_repository(session, repo_settings(settings, tmp_path, repo))


def onboarding(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`taskmanager onboarding` as a user runs it (its own process, its own connections)."""
    command = Path(sys.executable).parent / "taskmanager"
    return subprocess.run(
        [str(command), "onboarding"],
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(cwd), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_onboarding_command_loads_the_repository(
    app: Any, session: Any, database_url: str, tmp_path: Path
) -> None:
    repo = make_project_repo(tmp_path / "repo")
    env = make_env(
        database_url, tmp_path / "instance", PROJECT_REPO=str(repo), PROJECT_BRANCH="study"
    )
    result = onboarding(env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 templates created" in result.stdout
    assert template(session, "landmarks") is not None

    broken = {
        **env,
        "PROJECT_BRANCH": "no-such-branch",
        "TASKMAN_INSTANCE_PATH": str(tmp_path / "other"),
    }
    result = onboarding(broken, tmp_path)
    assert result.returncode == 1
    assert "Project repository: git clone failed" in result.stderr
