"""WTForms for proposing and reviewing knowledge-base edits (CSRF protected by Flask-WTF)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from .actions import MAX_BODY, MAX_REASON, MAX_TITLE


class ProposalForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=MAX_TITLE)])
    category = SelectField(_l("Category"), choices=[])
    lang = SelectField(_l("Language"), choices=[SelectChoice("zh_CN", "中文"), SelectChoice("en", "English")])
    tags = StringField(_l("Tags (comma-separated)"), validators=[Optional(), Length(max=600)])
    body = TextAreaField(_l("Body"), validators=[DataRequired(), Length(max=MAX_BODY)], render_kw={"rows": 14})
    reason = TextAreaField(
        _l("Why this change"), validators=[Optional(), Length(max=MAX_REASON)], render_kw={"rows": 3}
    )
    submit = SubmitField(_l("Submit proposal"))


class ReviewForm(FlaskForm):
    note = TextAreaField(
        _l("Note to the proposer"), validators=[Optional(), Length(max=MAX_REASON)], render_kw={"rows": 2}
    )
    approve = SubmitField(_l("Approve and publish"))
    reject = SubmitField(_l("Reject"))
