"""Forms of the web UI (Flask-WTF: every one carries a CSRF token), and showing service errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import flash
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    FloatField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..models import db
from ..services.kit.errors import DomainError, Forbidden

T = TypeVar("T")


class MultiCheckboxField(SelectMultipleField):
    """A choice of several as a list of checkboxes: usable by keyboard, touch and screen
    readers, where a multiple select needs Ctrl-click."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class UserForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    name = StringField("Full name", validators=[Optional(), Length(max=64)])
    email = StringField("E-mail", validators=[DataRequired(), Length(max=255)])
    password = PasswordField(
        "Password", validators=[Optional()], render_kw={"autocomplete": "new-password"}
    )
    assignment_weight = FloatField(
        "Assignment weight",
        default=1.0,
        validators=[InputRequired(), NumberRange(min=0)],
        description="0 takes the user out of automatic assignment; 0.1 gives about a tenth "
        "of the share of a user with weight 1.",
    )
    active = BooleanField("Active (may log in and receive tasks)", default=True)
    roles = MultiCheckboxField("Roles", choices=[])


class WeightForm(FlaskForm):
    assignment_weight = FloatField(
        "Assignment weight", validators=[InputRequired(), NumberRange(min=0)]
    )


class GroupForm(FlaskForm):
    groupname = StringField(
        "Group name",
        validators=[DataRequired(), Length(max=64)],
        description="The short name tasks and clients refer to the group by.",
    )
    name = StringField(
        "Description",
        validators=[Optional(), Length(max=64)],
        description="Defaults to the group name.",
    )


class MemberForm(FlaskForm):
    user = SelectField("Add a member", choices=[], validators=[DataRequired()])


class TagForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=32)])


class TemplateForm(FlaskForm):
    label = StringField("Label", validators=[DataRequired(), Length(max=64)])
    content = TextAreaField(
        "Content",
        validators=[DataRequired()],
        description="The template document, as JSON or YAML.",
        render_kw={"rows": 18, "spellcheck": "false"},
    )


class MetaForm(FlaskForm):
    label = StringField(
        "Label",
        validators=[DataRequired(), Length(max=64)],
        description="Used as $LABEL or ${LABEL} in task content and callback URLs.",
    )
    value = TextAreaField("Value", validators=[InputRequired()], render_kw={"rows": 3})


class MetaValueForm(FlaskForm):
    value = TextAreaField("New value", validators=[InputRequired()], render_kw={"rows": 3})


class SchedulingForm(FlaskForm):
    """A task's scheduling fields (services/tasks/checks.py checks the values)."""

    subject = StringField(
        "Subject",
        validators=[Optional(), Length(max=128)],
        description="The case or patient; a project's reader rules go by it. Empty: none.",
    )
    series = StringField(
        "Series",
        validators=[Optional(), Length(max=128)],
        description="Tasks of one series go to one reader when the project asks for it.",
    )
    # Left empty (or not sent): unchanged.
    priority = IntegerField(
        "Priority",
        validators=[Optional()],
        description="Higher first, when the project hands out tasks by priority.",
    )
    due = DateTimeLocalField(
        "Due (UTC)",
        format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        validators=[Optional()],
        description="Empty: no due date.",
    )
    effort = FloatField(
        "Effort",
        validators=[Optional()],
        description="How much work the task is, against 1 for a usual one.",
    )


class TaskForm(SchedulingForm):
    status = SelectField(
        "Status",
        choices=[],
        validators=[DataRequired()],
        description="queued, done or aborted, or a status your clients use.",
    )
    new_status = StringField(
        "Or a new status",
        validators=[Optional(), Length(max=64)],
        description="Only for a status no task has yet; it replaces the choice above.",
    )
    create_status = BooleanField("Yes, create this new status")
    users = MultiCheckboxField("Assigned users", choices=[], coerce=int)
    groups = MultiCheckboxField("Assigned groups", choices=[], coerce=int)
    tags = StringField(
        "Tags", description="Comma-separated; new names become new tags.", validators=[Optional()]
    )

    def chosen_status(self) -> str:
        """The status asked for: a new one typed, else the one chosen."""
        return (self.new_status.data or "").strip() or self.status.data

    def validate(self, extra_validators: Any = None) -> bool:
        if not super().validate(extra_validators):
            return False
        new = (self.new_status.data or "").strip()
        known = {value for value, *_ in self.status.choices}  # type: ignore[union-attr]
        if new and new not in known and not self.create_status.data:
            self.create_status.errors = [
                f"Create the new status {new!r}? Tick the box to confirm, or choose a status."
            ]
            return False
        return True


class LockForm(FlaskForm):
    user = SelectField("Move the lock to", choices=[], validators=[DataRequired()])


class ReassignForm(FlaskForm):
    from_user = SelectField("Open tasks of", choices=[], validators=[DataRequired()])
    to_user = SelectField("Give them to the user", choices=[], validators=[Optional()])
    to_group = SelectField("or to the group", choices=[], validators=[Optional()])
    release_locks = BooleanField("Also release the locks they hold on these tasks", default=True)

    def validate(self, extra_validators: Any = None) -> bool:
        if not super().validate(extra_validators):
            return False
        if bool(self.to_user.data) == bool(self.to_group.data):
            self.form_errors.append("Choose either a user or a group to give the tasks to.")
            return False
        return True


class MailForm(FlaskForm):
    users = MultiCheckboxField("Users", choices=[], coerce=int)
    groups = MultiCheckboxField("Groups (every member)", choices=[], coerce=int)
    subject = StringField("Subject", validators=[DataRequired(), Length(max=200)])
    body = TextAreaField("Message", validators=[DataRequired()], render_kw={"rows": 10})

    def validate(self, extra_validators: Any = None) -> bool:
        if not super().validate(extra_validators):
            return False
        if not self.users.data and not self.groups.data:
            self.form_errors.append("Choose at least one user or group to write to.")
            return False
        return True


class PolicyForm(FlaskForm):
    """A project's policy (services/tasks/policy.py checks the values and their combination)."""

    distinct_readers = BooleanField("Distinct readers: a reader never gets two tasks of a subject")
    washout_days = IntegerField(
        "Washout (days)",
        validators=[Optional()],
        description="Without distinct readers: a reader gets a subject again only this many "
        "days after their last task of it. Empty: no washout.",
    )
    consistent_series = BooleanField(
        "Consistent series: every task of a series goes to the reader of its first"
    )
    max_open_per_user = IntegerField(
        "Most open tasks per reader",
        validators=[Optional()],
        description="A reader holding this many open tasks of the project gets no more. "
        "Empty: no cap.",
    )
    balance_by = SelectField(
        "Balance by",
        choices=[],
        validators=[DataRequired()],
        description="What weighted automatic assignment shares out: the number of tasks, "
        "or their effort.",
    )
    priority_order = BooleanField(
        "Priority order: hand out and list by priority, then due date, then age"
    )

    def values(self) -> dict[str, Any]:
        """The policy fields as the service takes them (empty numbers: none)."""
        return {
            "distinct_readers": bool(self.distinct_readers.data),
            "washout_days": self.washout_days.data,
            "consistent_series": bool(self.consistent_series.data),
            "max_open_per_user": self.max_open_per_user.data,
            "balance_by": self.balance_by.data,
            "priority_order": bool(self.priority_order.data),
        }


def show_errors(form: FlaskForm, error: DomainError) -> None:
    """Put a service's per-field errors on the form's fields; the rest above the form."""
    placed = False
    for name, messages in error.errors.items():
        field = form._fields.get(name)
        if field is not None:
            field.errors = [*field.errors, *messages]
            placed = True
    if not placed:
        form.form_errors.append(error.message)


def _commit(change: Callable[[], T]) -> T | DomainError:
    """Run a change and commit it, or roll back and return the domain error that refused it.

    Forbidden is not a mistake the user can fix on the page: it propagates and answers 403.
    """
    try:
        result = change()
        db.session.commit()
    except Forbidden:
        db.session.rollback()
        raise
    except DomainError as error:
        db.session.rollback()
        return error
    return result


def attempt(form: FlaskForm, change: Callable[[], T]) -> tuple[bool, T | None]:
    """Commit a form's change, or show why the services refused it on the form."""
    outcome = _commit(change)
    if isinstance(outcome, DomainError):
        show_errors(form, outcome)
        return False, None
    return True, outcome


def attempt_action(change: Callable[[], T], success: str) -> bool:
    """Commit a button's change (no form fields) and flash the outcome."""
    outcome = _commit(change)
    if isinstance(outcome, DomainError):
        flash(outcome.message, "error")
        return False
    flash(success, "success")
    return True
