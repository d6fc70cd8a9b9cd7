"""WTForms for login and the admin pages (CSRF protected by Flask-WTF)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from .models import LEVELS, ROLES


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=128)])
    submit = SubmitField(_l("Log in"))


class UserForm(FlaskForm):
    username = StringField(
        _l("Username"),
        validators=[
            DataRequired(),
            Length(min=2, max=64),
            Regexp(r"^[A-Za-z0-9_.-]+$", message=_l("Letters, digits, _ . - only")),
        ],
    )
    display_name = StringField(_l("Display name"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(min=8, max=128)])
    role = SelectField(_l("Role"), choices=[(r, _l(r)) for r in ROLES])  # the role by its label, not its code
    level = SelectField(_l("Level"), choices=[("", "-")] + [(lv, lv) for lv in LEVELS], validators=[Optional()])
    group_id = SelectField(_l("Group"), coerce=int, choices=[], validators=[Optional()])
    submit = SubmitField(_l("Create user"))


class GroupForm(FlaskForm):
    name = StringField(_l("Group name"), validators=[DataRequired(), Length(max=80)])
    lead_id = SelectField(_l("Lead"), coerce=int, choices=[])
    submit = SubmitField(_l("Create group"))
