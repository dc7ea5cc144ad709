#!/bin/sh
# Container start-up: wait for the database (bounded by TASKMAN_DB_WAIT_TIMEOUT), migrate, run
# onboarding (roles, the TASKMAN_ADMIN_* account, the PROJECT_REPO config), then start
#   server (default)  gunicorn via `taskmanager serve`, honouring TASKMANAGER_PORT and GUNICORN_*
#   worker            the callback worker, `taskmanager worker`
#   migrate           nothing: migrate and onboard, then exit (the Helm chart's migration Job)
# With TASKMAN_AUTO_MIGRATE=false (set by the Helm chart, whose Job migrates once per release)
# server and worker only wait for the database: many pods must not each migrate.
# Anything else is run as a command, e.g. `docker run IMAGE taskmanager-config /config.yaml`.
set -eu

# Read as the server reads its switches (taskmanager/config.py Switch): 1/true/yes/on is on.
auto_migrate() {
    case "$(printf '%s' "${TASKMAN_AUTO_MIGRATE:-true}" | tr -d '[:space:]' | tr '[:upper:]' '[:lower:]')" in
        1|true|yes|on) return 0 ;;
        *) return 1 ;;
    esac
}

prepare() {
    echo "entrypoint: waiting for the database" >&2
    taskmanager db wait
    if ! auto_migrate && [ "${1:-}" != always ]; then
        echo "entrypoint: not migrating (TASKMAN_AUTO_MIGRATE=$TASKMAN_AUTO_MIGRATE)" >&2
        return 0
    fi
    echo "entrypoint: migrating" >&2
    taskmanager db upgrade
    echo "entrypoint: onboarding" >&2
    taskmanager onboarding
}

command="${1:-server}"
case "$command" in
    server|serve)
        if [ "$#" -gt 0 ]; then shift; fi
        prepare
        # Done above; the server need not do it again.
        export TASKMAN_AUTO_MIGRATE=false
        exec taskmanager serve "$@"
        ;;
    worker)
        shift
        prepare
        exec taskmanager worker "$@"
        ;;
    migrate)
        prepare always
        ;;
    *)
        exec "$@"
        ;;
esac
