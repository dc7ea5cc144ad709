#!/bin/sh
# Container start-up: wait for the database (bounded by TASKMAN_DB_WAIT_TIMEOUT), migrate, run
# onboarding (roles, the TASKMAN_ADMIN_* account, the PROJECT_REPO config), then start
#   server (default)  gunicorn via `taskmanager serve`, honouring TASKMANAGER_PORT and GUNICORN_*
#   worker            the callback worker, `taskmanager worker`
# Anything else is run as a command, e.g. `docker run IMAGE taskmanager-config /config.yaml`.
set -eu

prepare() {
    echo "entrypoint: waiting for the database" >&2
    taskmanager db wait
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
    *)
        exec "$@"
        ;;
esac
