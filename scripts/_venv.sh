# Shared by scripts/run and scripts/test: a project virtualenv with the package installed.
# PYTHON chooses the interpreter (default python3); it must be Python 3.11 or newer.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
REQUIRED_PYTHON="3.11"

python_ok() {  # interpreter: is it Python 3.11+?
  "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1
}

fail() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

choose_python_hint="choose one with PYTHON, e.g. PYTHON=python3.12 $0"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  fail "TaskManager needs Python $REQUIRED_PYTHON or newer, and '$PYTHON' is not installed; $choose_python_hint"
fi

# A .venv that cannot run, or made with an older Python, is rebuilt rather than half-used.
if [ -e .venv ] && ! python_ok .venv/bin/python; then
  echo "$(basename "$0"): .venv does not hold a working Python $REQUIRED_PYTHON+; making it again" >&2
  rm -rf .venv
fi

created=""
if [ ! -x .venv/bin/python ]; then
  if ! python_ok "$PYTHON"; then
    found="$("$PYTHON" -c 'import platform; print(platform.python_version())' 2>/dev/null || echo "unknown")"
    fail "TaskManager needs Python $REQUIRED_PYTHON or newer, and '$PYTHON' is $found; $choose_python_hint"
  fi
  if ! "$PYTHON" -m venv .venv; then
    rm -rf .venv
    fail "'$PYTHON -m venv' failed (on Debian or Ubuntu: apt-get install python3-venv); nothing was left behind"
  fi
  created=yes
fi

extras="${1:-}"
stamp=".venv/.installed${extras:+-$extras}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  if ! {
    .venv/bin/python -m pip install --quiet --upgrade pip &&
      # A .venv made before the distribution took the old server's name (task-manager).
      { .venv/bin/python -m pip uninstall --quiet --yes taskmanager 2>/dev/null || true; } &&
      .venv/bin/python -m pip install --quiet -e ".${extras:+[$extras]}"
  }; then
    if [ -n "$created" ]; then rm -rf .venv; fi
    fail "installing TaskManager into .venv failed (see pip's message above); run the command again once that is fixed"
  fi
  touch "$stamp"
fi
