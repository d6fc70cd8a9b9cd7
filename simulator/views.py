"""Simulator JSON API: start a practice customer, create/start/stop/read exercises. Thin: validate -> engine."""

from __future__ import annotations

import math

from flask import Blueprint, abort, current_app, jsonify, request
from flask_login import current_user
from sqlalchemy import func, select

from accounts.models import Group
from accounts.roles import role_required
from contacts.actions import ActionError
from contacts.models import Contact
from extensions import db

from .arrivals import PlanError, plan_arrivals
from .engine import ExerciseStateError, SimulatorError
from .models import Exercise

bp = Blueprint("simulator", __name__)

# A trainee practising alone may keep this many simulated customers in conversation at once.
TRAINEE_LIVE_LIMIT = 3
MAX_RATE_PER_MINUTE = 120
MAX_DURATION_SECONDS = 8 * 3600


def _engine():
    return current_app.extensions["kefu_simulator"]


def _error(message: str, status: int = 400):
    return jsonify(error=message), status


def open_simulated(*, exercise_id: int | None = None, reserved_for: int | None = None) -> int:
    """Simulated contacts still open (queued or active) of an exercise, or reserved for a trainee, whichever
    process drives them (simulator workers, other web processes): counted in the database."""
    q = select(func.count()).select_from(Contact)
    q = q.where(Contact.simulated.is_(True), Contact.status.in_(("queued", "active")))
    if exercise_id is not None:
        q = q.where(Contact.exercise_id == exercise_id)
    if reserved_for is not None:
        q = q.where(Contact.reserved_agent_id == reserved_for)
    return int(db.session.scalar(q) or 0)


def _body() -> dict | None:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else None


def exercise_dict(ex: Exercise) -> dict:
    return {
        "id": ex.id,
        "name": ex.name,
        "kind": ex.kind,
        "lang": ex.lang,
        "group_id": ex.group_id,
        "created_by": ex.created_by,
        "seed": ex.seed,
        "rate_per_minute": ex.rate_per_minute,
        "duration_seconds": ex.duration_seconds,
        "mix": ex.mix,
        "schedule": ex.schedule,
        "status": ex.status,
        "started_at": ex.started_at,
        "ended_at": ex.ended_at,
        "created_at": ex.created_at,
        # this process's customers (an email customer waiting to write a follow-up has no open contact), or the
        # open contacts of the exercise over every process, whichever is more
        "live_customers": max(_engine().live_count(exercise_id=ex.id), open_simulated(exercise_id=ex.id)),
    }


@bp.post("/api/sim/customers")
@role_required("lead", "admin", "trainee")
def start_customer():
    """Start one simulated customer of a scenario (a trainee starts a practice customer for themself)."""
    data = _body()
    if data is None:
        return _error("send a JSON object")
    scenario_id = data.get("scenario_id")
    if not isinstance(scenario_id, str) or not scenario_id.strip():
        return _error("scenario_id is required")
    seed = data.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        return _error("seed must be a whole number")
    engine = _engine()
    here = engine.live_count(started_by=current_user.id) + engine.email_customers.live_count(started_by=current_user.id)
    # Their customers may be driven by other processes (simulator workers, the web process of another request):
    # the open contacts reserved for them count too.
    live = max(here, open_simulated(reserved_for=current_user.id)) if current_user.role == "trainee" else here
    if current_user.role == "trainee" and live >= TRAINEE_LIVE_LIMIT:
        return _error(f"you already have {TRAINEE_LIVE_LIMIT} practice customers in conversation", 409)
    if not engine.content.exists(scenario_id.strip()):
        return _error(f"no scenario {scenario_id.strip()!r}", 404)
    try:
        # A trainee's practice customer is theirs: reserved, so the ACD offers it to nobody else.
        reserve = current_user.id if current_user.role == "trainee" else None
        contact_id = engine.start_customer(
            scenario_id.strip(), seed=seed, started_by=current_user.id, reserve_for=reserve
        )
    except (SimulatorError, ActionError) as e:
        return _error(str(e))
    return jsonify(contact_id=contact_id, scenario_id=scenario_id.strip()), 201


@bp.post("/api/exercises")
@role_required("lead", "admin")
def create_exercise():
    """Create a planned exercise: a mix of scenarios arriving as a Poisson process."""
    data = _body()
    if data is None:
        return _error("send a JSON object")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 120:
        return _error("name must be 1 to 120 characters")
    kind = data.get("kind", "practice")
    if kind not in ("practice", "exam"):
        return _error("kind must be practice or exam")
    lang = data.get("lang", current_app.config["BABEL_DEFAULT_LOCALE"])
    if lang not in current_app.config["LANGUAGES"]:
        return _error(f"lang must be one of {current_app.config['LANGUAGES']}")
    mix = data.get("mix")
    rate = data.get("rate_per_minute", 1.0)
    duration = data.get("duration_seconds", 600)
    seed = data.get("seed", 1)
    if isinstance(seed, bool) or not isinstance(seed, int):
        return _error("seed must be a whole number")
    if isinstance(duration, bool) or not isinstance(duration, int) or not 1 <= duration <= MAX_DURATION_SECONDS:
        return _error(f"duration_seconds must be a whole number from 1 to {MAX_DURATION_SECONDS}")
    if (
        isinstance(rate, bool)
        or not isinstance(rate, int | float)
        or not math.isfinite(rate)
        or not 0 < rate <= MAX_RATE_PER_MINUTE
    ):
        return _error(f"rate_per_minute must be above 0 and at most {MAX_RATE_PER_MINUTE}")
    try:
        plan_arrivals(mix, rate, 0, seed)  # validates the mix
    except PlanError as e:
        return _error(str(e))
    unknown = sorted(sid for sid in mix if not _engine().content.exists(sid))
    if unknown:
        return _error(f"unknown scenario(s) in the mix: {', '.join(unknown)}")
    group_id = data.get("group_id")
    if group_id is not None and (
        isinstance(group_id, bool) or not isinstance(group_id, int) or db.session.get(Group, group_id) is None
    ):
        return _error("group_id names no group")
    if group_id is not None and current_user.role != "admin" and group_id not in current_user.led_group_ids():
        return _error("you may create exercises only for the groups you lead", 403)
    ex = Exercise(
        name=name.strip(),
        kind=kind,
        lang=lang,
        group_id=group_id,
        created_by=current_user.id,
        seed=seed,
        rate_per_minute=float(rate),
        duration_seconds=duration,
        mix={k: float(v) for k, v in mix.items()},
        schedule=[],
        status="planned",
    )
    db.session.add(ex)
    db.session.commit()
    return jsonify(exercise_dict(ex)), 201


def may_manage_exercise(user, ex: Exercise) -> bool:
    """Admins every exercise; a lead the exercises of the groups they lead, and those they made for no group."""
    if user.role == "admin":
        return True
    if user.role != "lead":
        return False
    if ex.group_id is None:
        return ex.created_by == user.id
    return ex.group_id in user.led_group_ids()


def _get_exercise(exercise_id: int) -> Exercise | None:
    ex = db.session.get(Exercise, exercise_id)
    if ex is not None and not may_manage_exercise(current_user, ex):
        abort(403, description=f"exercise {exercise_id} belongs to a group you do not lead")
    return ex


@bp.get("/api/exercises/<int:exercise_id>")
@role_required("lead", "admin")
def get_exercise(exercise_id: int):
    ex = _get_exercise(exercise_id)
    if ex is None:
        return _error(f"no exercise {exercise_id}", 404)
    return jsonify(exercise_dict(ex))


@bp.post("/api/exercises/<int:exercise_id>/start")
@role_required("lead", "admin")
def start_exercise(exercise_id: int):
    ex = _get_exercise(exercise_id)
    if ex is None:
        return _error(f"no exercise {exercise_id}", 404)
    try:
        _engine().start_exercise(ex)
    except ExerciseStateError as e:
        return _error(str(e), 409)
    except (SimulatorError, PlanError) as e:
        return _error(str(e))
    return jsonify(exercise_dict(ex))


@bp.post("/api/exercises/<int:exercise_id>/stop")
@role_required("lead", "admin")
def stop_exercise(exercise_id: int):
    ex = _get_exercise(exercise_id)
    if ex is None:
        return _error(f"no exercise {exercise_id}", 404)
    try:
        _engine().stop_exercise(ex)
    except ExerciseStateError as e:
        return _error(str(e), 409)
    return jsonify(exercise_dict(ex))
