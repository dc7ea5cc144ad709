"""`taskmanager add-user`: create an account, as the old `taskmanager-add-user` did."""

from __future__ import annotations

import click

from .backends import Backend, backend_options


@click.command("add-user", short_help="Create a user account.")
@click.option("-u", "--username", required=True, help="Login name.")
@click.option(
    "-p",
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Password (asked for when omitted).",
)
@click.option("-n", "--name", "full_name", required=True, help="Full name.")
@click.option("-e", "--email", required=True, help="E-mail address.")
@click.option(
    "-w", "--weight", type=float, default=1.0, show_default=True, help="Assignment weight."
)
@click.option("-i", "--inactive", is_flag=True, help="Create the account deactivated.")
@click.option(
    "--unconfirmed", is_flag=True, help="Leave the e-mail unconfirmed (with --database-insert)."
)
@click.option(
    "-r",
    "--role",
    "roles",
    multiple=True,
    default=("user",),
    show_default=True,
    help="Role to grant (repeat for several).",
)
@click.option("-f", "--force", is_flag=True, help="Do not ask for confirmation.")
@backend_options(auth_names=("--auth-user", "--auth-password"))
def add_user(
    username: str,
    password: str,
    full_name: str,
    email: str,
    weight: float,
    inactive: bool,
    unconfirmed: bool,
    roles: tuple[str, ...],
    force: bool,
    backend: Backend,
) -> None:
    """Create a user account (on a server, log in with --auth-user/--auth-password)."""
    if not force:
        click.echo(
            f"User {username!r}: name {full_name!r}, e-mail {email}, weight {weight}, "
            f"{'inactive' if inactive else 'active'}, "
            f"{'unconfirmed' if unconfirmed else 'confirmed'}, roles {', '.join(roles) or 'none'}"
        )
        click.confirm(f"Create this user on {backend.description}?", abort=True)
    fields = {
        "username": username,
        "password": password,
        "name": full_name,
        "email": email,
        "active": not inactive,
        "assignment_weight": weight,
    }
    backend.create_user(fields, list(roles), confirmed=not unconfirmed)
    click.echo(f"Created user {username!r} on {backend.description}.")
