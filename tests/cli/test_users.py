"""`taskmanager add-user`, over HTTP and directly."""

from .conftest import Cli, ok, unique


def _user(cli: Cli, username: str) -> tuple:
    rows = cli.rows(
        "SELECT name, email, active, assignment_weight, confirmed_at IS NULL FROM users "
        "WHERE username = :u",
        u=username,
    )
    return rows[0] if rows else ()


def _roles(cli: Cli, username: str) -> list[str]:
    rows = cli.rows(
        "SELECT roles.name FROM roles JOIN roles_users ON roles.id = roles_users.role_id "
        "JOIN users ON users.id = roles_users.user_id WHERE users.username = :u ORDER BY 1",
        u=username,
    )
    return [row[0] for row in rows]


def _add(username: str, *extra: str) -> tuple[str, ...]:
    return (
        "add-user", "-u", username, "-p", "long-enough-pw", "-n", "Jo Doe",
        "-e", f"{username}@example.org", *extra,
    )  # fmt: skip


def test_add_user_over_http_asks_first(cli: Cli) -> None:
    username = unique("jo")
    declined = cli.run(*_add(username), input="n\n")
    assert declined.exit_code == 1
    assert f"User {username!r}: name 'Jo Doe'" in declined.output
    assert _user(cli, username) == ()

    ok(cli.run(*_add(username, "-w", "0.5", "-r", "superuser", "-r", "user"), input="y\n"))
    name, email, active, weight, unconfirmed = _user(cli, username)
    assert (name, email, bool(active), weight, bool(unconfirmed)) == (
        "Jo Doe", f"{username}@example.org", True, 0.5, False,
    )  # fmt: skip
    assert _roles(cli, username) == ["superuser", "user"]

    again = cli.run(*_add(username, "-f"))
    assert again.exit_code == 1
    assert "already exists (HTTP 409)" in again.stderr

    result = cli.run(*_add(unique("jo"), "-f", "--unconfirmed"))
    assert result.exit_code == 2 and "--database-insert" in result.stderr


def test_add_user_in_the_database(cli: Cli) -> None:
    username = unique("db")
    ok(cli.run(*_add(username, "-f", "-i", "--unconfirmed"), database=True))
    _name, _email, active, weight, unconfirmed = _user(cli, username)
    assert (bool(active), weight, bool(unconfirmed)) == (False, 1.0, True)
    assert _roles(cli, username) == ["user"]
