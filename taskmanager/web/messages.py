"""Page: e-mail users or the members of groups."""

from __future__ import annotations

import smtplib

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..models import db
from ..services.accounts import account_pages
from ..services.kit import references
from ..wording import counted
from .blueprint import bp, permission_required
from .forms import MailForm
from .mail import configured, send


def _int_args(name: str) -> list[int]:
    ids = (references.as_id(value) for value in request.args.getlist(name) if value.isdigit())
    return [number for number in ids if number is not None]


@bp.route("/mail", methods=["GET", "POST"])
@permission_required("user_read_all")
def compose_mail() -> str | Response:
    form = MailForm()
    form.users.choices = account_pages.user_choices(db.session)
    form.groups.choices = account_pages.group_choices(db.session)
    if request.method == "GET":
        form.users.data = _int_args("user")
        form.groups.data = _int_args("group")
    if form.validate_on_submit():
        addresses = account_pages.mail_addresses(
            db.session, user_ids=form.users.data, group_ids=form.groups.data
        )
        if not addresses:
            form.form_errors.append("Nobody to write to: the chosen groups have no active members.")
        else:
            try:
                send(subject=form.subject.data, recipients=addresses, body=form.body.data)
            except (OSError, smtplib.SMTPException) as error:
                form.form_errors.append(f"The mail server refused the message: {error}")
            else:
                if configured():
                    flash(f"Message sent to {counted(len(addresses), 'recipient')}.", "success")
                else:
                    flash(
                        f"No mail server is configured (MAIL_SERVER): the message to "
                        f"{counted(len(addresses), 'recipient')} was written to the server log.",
                        "warning",
                    )
                return redirect(url_for("web.compose_mail"))
    return render_template("mail.html", title="E-mail users", form=form)
