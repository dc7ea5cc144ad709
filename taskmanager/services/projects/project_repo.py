"""A project's configuration kept in git (PROJECT_REPO, PROJECT_BRANCH, PROJECT_RELATIVE_PATH).

The repository is cloned into the instance folder at start-up and brought up to date on every
later start; the config file found there is then loaded (see services.project_config).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from ...config import Settings

log = logging.getLogger(__name__)

CONFIG_NAMES = (
    "taskmanager.yaml",
    "taskmanager.yml",
    "taskmanager.json",
    "config.yaml",
    "config.yml",
    "config.json",
)
GIT_TIMEOUT = 300.0


class ProjectRepoError(RuntimeError):
    """The project repository could not be fetched, or holds no config file."""


def redact(url: str) -> str:
    """The URL without a password or token, for messages."""
    return re.sub(r"//[^/@]+@", "//***@", url)


def checkout_path(settings: Settings) -> Path:
    return settings.instance_path / "project"


def _git(*args: str, cwd: Path | None = None) -> str:
    # Never wait for a password prompt nobody will answer.
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    try:
        result = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except FileNotFoundError as exc:
        raise ProjectRepoError("git is not installed, but PROJECT_REPO needs it") from exc
    except subprocess.TimeoutExpired as exc:
        raise ProjectRepoError(f"git {args[0]} took longer than {GIT_TIMEOUT:.0f} s") from exc
    if result.returncode != 0:
        message = " ".join(redact(line) for line in result.stderr.strip().splitlines()[-3:])
        raise ProjectRepoError(f"git {args[0]} failed: {message}")
    return result.stdout


def fetch(*, url: str, branch: str | None, destination: Path) -> Path:
    """Clone the repository, or update an earlier clone to the branch's newest commit."""
    ref = branch or "HEAD"
    if (destination / ".git").is_dir():
        _git("remote", "set-url", "origin", url, cwd=destination)
        _git("fetch", "--depth", "1", "origin", ref, cwd=destination)
        _git("checkout", "--force", "--detach", "FETCH_HEAD", cwd=destination)
        _git("clean", "-fdx", cwd=destination)
    else:
        destination.parent.mkdir(parents=True, exist_ok=True)
        # Clone beside the destination and move it in whole, so a failed clone leaves nothing.
        staging = Path(tempfile.mkdtemp(prefix=".project-", dir=destination.parent))
        try:
            args = ["clone", "--depth", "1", "--quiet"]
            if branch:
                args += ["--branch", branch]
            _git(*args, url, str(staging / "repo"))
            shutil.rmtree(destination, ignore_errors=True)
            (staging / "repo").rename(destination)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    revision = _git("rev-parse", "--short", "HEAD", cwd=destination).strip()
    log.info("Project repository %s at %s (%s)", redact(url), revision, ref)
    return destination


def find_config(*, root: Path, relative_path: str | None) -> Path:
    """The config file: PROJECT_RELATIVE_PATH itself, or a known name in that folder."""
    base = (root / (relative_path or "")).resolve()
    if not base.is_relative_to(root.resolve()):
        raise ProjectRepoError(f"PROJECT_RELATIVE_PATH {relative_path!r} leaves the repository")
    if base.is_file():
        return base
    for name in CONFIG_NAMES:
        if (base / name).is_file():
            return base / name
    raise ProjectRepoError(
        f"no config file ({', '.join(CONFIG_NAMES)}) in {relative_path or 'the repository root'}"
    )


def sync(settings: Settings) -> Path | None:
    """Bring the checkout up to date and return its config file; None without PROJECT_REPO.

    When the repository cannot be reached but an earlier checkout exists, that one is used.
    """
    if not settings.project_repo:
        return None
    destination = checkout_path(settings)
    try:
        fetch(url=settings.project_repo, branch=settings.project_branch, destination=destination)
    except ProjectRepoError as exc:
        if not (destination / ".git").is_dir():
            raise
        log.warning("Using the earlier checkout of the project repository: %s", exc)
    return find_config(root=destination, relative_path=settings.project_relative_path)
