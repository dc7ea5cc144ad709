"""A local git repository holding a project config, as PROJECT_REPO would name."""

from __future__ import annotations

import subprocess
from pathlib import Path

CONFIG = """\
roles:
  - name: annotator
    description: Places landmarks
    permissions: [task_read, task_update_status, user_read]
users:
  - username: reader
    name: Reader One
    email: reader@example.org
    password: reader-password
    roles: [user]
groups:
  - groupname: readers
    name: Readers
    members: [reader]
tags: [brain]
templates:
  - templates/landmarks.yaml
"""

TEMPLATE = """\
template_name: landmarks
scans:
  - label: t1
  - label: flair
"""


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.org", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout


def commit_file(repo: Path, relative: str, text: str, message: str = "update") -> None:
    path = repo / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    git(repo, "add", relative)
    git(repo, "commit", "-q", "-m", message)


def make_project_repo(repo: Path, *, subdir: str = "", branch: str = "study") -> Path:
    """A repository on `branch` with the config (and its template) in `subdir`."""
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", branch)
    prefix = f"{subdir}/" if subdir else ""
    commit_file(repo, f"{prefix}templates/landmarks.yaml", TEMPLATE, "template")
    commit_file(repo, f"{prefix}taskmanager.yaml", CONFIG, "config")
    return repo
