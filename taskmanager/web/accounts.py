"""Flask-Security's account pages, fitted to TaskManager: one sign-in field, registration defaults."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, g, request
from flask_security import user_registered
from flask_security.core import FormInfo
from flask_security.forms import Form, LoginForm
from flask_security.utils import get_message
from wtforms import StringField
from wtforms.validators import Optional

from ..models import User, db
from ..security import security
from ..services.accounts import authentication, roles
from ..services.accounts import users as user_service

log = logging.getLogger(__name__)

# Where Flask-Security sends the browser after each step, unless the deployment says otherwise.
POST_VIEWS = {
    "SECURITY_POST_LOGIN_VIEW": "web.dashboard",
    "SECURITY_POST_LOGOUT_VIEW": "security.login",
    "SECURITY_POST_REGISTER_VIEW": "security.login",
    "SECURITY_POST_CONFIRM_VIEW": "security.login",
    "SECURITY_POST_RESET_VIEW": "security.login",
    "SECURITY_POST_CHANGE_VIEW": "web.dashboard",
}


class IdentityLoginForm(LoginForm):
    """Sign in with a username (case-sensitive) or an e-mail address (case-insensitive)."""

    identity = StringField(
        "Username or e-mail",
        validators=[Optional()],
        render_kw={"autocomplete": "username", "autofocus": True},
    )

    def validate(self, **kwargs: Any) -> bool:
        identity = (self.identity.data or "").strip()
        if identity:
            # Setting ifield and user tells Flask-Security the identity is already looked up.
            self.ifield = self.identity
            self.user = authentication.find_by_identity(db.session, identity)
        valid = bool(super().validate(**kwargs))
        matched = bool(getattr(self, "user_authenticated", False))
        # Read by the login throttle (taskmanager.security): only a wrong password counts.
        g.taskman_password_matched = matched
        if not valid and not matched and (self.identity.errors or self.password.errors):
            # One answer for an unknown account and a wrong password: which one it was would
            # tell a stranger which accounts exist.
            self.identity.errors = []
            self.password.errors = []
            self.form_errors.append(get_message("GENERIC_AUTHN_FAILED")[0])
        return valid


# Forms a browser posts before anyone is signed in. The deployment lets JSON clients use these
# endpoints without a CSRF token (SECURITY_CSRF_IGNORE_UNAUTH_ENDPOINTS); HTML forms keep it.
BROWSER_FORMS = (
    "login_form",
    "register_form",
    "forgot_password_form",
    "reset_password_form",
    "send_confirmation_form",
)


def _with_csrf_for_browsers(name: str, cls: type[Form], *args: Any, **kwargs: Any) -> Form:
    if not request.is_json:
        # Flask-Security marked the request as CSRF-checked and the form as exempt; undo both
        # so the form checks its token (and shows the error like any other field's).
        g.pop("csrf_valid", None)
        kwargs["meta"] = {k: v for k, v in (kwargs.get("meta") or {}).items() if k != "csrf"}
    return cls(*args, **kwargs)


def _on_registered(app: Flask, user: User, **_: Any) -> None:
    """A self-registered account gets the site's registration roles and weight (by default none
    and 0, until an admin grants them); Flask-Security commits after the request."""
    settings = app.extensions["taskman_settings"]
    user.assignment_weight = settings.registration_weight
    for name in settings.registration_roles:
        role = roles.get_by_reference(db.session, reference=name)
        if role is None:
            log.warning("TASKMAN_REGISTRATION_ROLES names %r, which is not a role", name)
            continue
        user_service.set_role(db.session, user=user, role=role, granted=True)


def init_app(app: Flask) -> None:
    security.set_form_info("login_form", FormInfo(cls=IdentityLoginForm))
    for name in BROWSER_FORMS:
        form_class = security.forms[name].cls
        security.set_form_info(name, FormInfo(instantiator=_with_csrf_for_browsers, cls=form_class))
    passed = app.extensions["taskman_settings"].flask_passthrough
    for key, endpoint in POST_VIEWS.items():
        if key not in passed:
            app.config[key] = endpoint
    user_registered.connect(_on_registered, sender=app)
