#!/usr/bin/env python3
"""Write the settings of a TaskManager on a MySQL/MariaDB database to a `.env` file.

    python ./create_config.py -d taskmanager -u taskmanager -p PASSWORD [--host localhost]

The server (`flask run`, `taskmanager run|serve`, the taskmanager-* commands) reads `.env` from
the directory it starts in. The file gets the database URL and a freshly generated SECRET_KEY and
SECURITY_PASSWORD_SALT. An existing file is never overwritten: the salt is mixed into every
stored password hash, so a new one would lock every account out. Standard library only, so it runs
before TaskManager is installed.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path
from urllib.parse import quote


def database_uri(*, user: str, password: str, host: str, port: int | None, database: str) -> str:
    address = f"{host}:{port}" if port else host
    return (
        f"mysql+pymysql://{quote(user, safe='')}:{quote(password, safe='')}"
        f"@{address}/{quote(database, safe='')}"
    )


def settings(arguments: argparse.Namespace) -> dict[str, str]:
    return {
        "FLASK_APP": "taskmanager",
        "SQLALCHEMY_DATABASE_URI": database_uri(
            user=arguments.user,
            password=arguments.password,
            host=arguments.host,
            port=arguments.port,
            database=arguments.database,
        ),
        "SECRET_KEY": secrets.token_hex(32),
        "SECURITY_PASSWORD_SALT": secrets.token_hex(16),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write .env for a TaskManager on a MySQL/MariaDB database."
    )
    parser.add_argument("-d", "--database", required=True, help="database name")
    parser.add_argument("-u", "--user", required=True, help="database user")
    parser.add_argument("-p", "--password", required=True, help="that user's password")
    parser.add_argument("--host", default="localhost", help="database host (default localhost)")
    parser.add_argument("--port", type=int, default=None, help="database port (default 3306)")
    parser.add_argument(
        "-o", "--output", type=Path, default=Path(".env"), help="file to write (default .env)"
    )
    arguments = parser.parse_args(argv)
    if arguments.output.exists():
        print(
            f"create_config.py: {arguments.output} exists; not overwritten (a new "
            "SECURITY_PASSWORD_SALT would invalidate every password). Edit it, or use -o.",
            file=sys.stderr,
        )
        return 1
    lines = [f'{key}="{value}"\n' for key, value in settings(arguments).items()]
    arguments.output.touch(mode=0o600)
    arguments.output.write_text("".join(lines))
    print(f"Wrote {arguments.output} (database {arguments.database!r} on {arguments.host}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
