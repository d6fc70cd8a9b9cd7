"""create_app(config) -> Flask app. ``python app.py`` serves on http://127.0.0.1:5000."""

from __future__ import annotations

import gc
import os
import signal
from urllib.parse import urlsplit

if __name__ == "__main__":
    # KEFU_ASYNC_MODE=gevent: patch the standard library before anything else imports sockets or threads.
    from concurrency import patch_if_requested

    patch_if_requested()

from flask import Flask, redirect, request, url_for
from flask_login import current_user

from accounts.sessions import SocketSessionInterface
from clock import clock
from concurrency import effective_mode, handle_quick_events_inline, serialise_sqlite_writers, server_options
from config import Config, config_by_name
from extensions import (
    SocketJSON,
    SocketPacket,
    babel,
    csrf,
    db,
    login_manager,
    media_loop,
    migrate,
    redis_store,
    socketio,
)
from i18n import current_lang, select_locale
from security import init_security

# The one explicit, ordered registration list. Each package exposes init_app(app).
PACKAGES = (
    "accounts",
    "contacts",
    "routing",
    "tickets",
    "knowledge_base",
    "scenarios",
    "understanding",
    "livestream",  # before channels: registers its channel type, which channels' init_app then switches on
    "channels",
    "simulator",
    "grading",
    "roleplay",
    "calibration",
    "console",
    "theory",
    "reports",
    "tasks",
    "apidocs",  # last: its documents describe the routes and namespaces the others registered
)


def socketio_channel(config) -> str:
    """The Redis pub/sub channel of the Socket.IO message queue. Pub/sub channels are server-wide (no database
    number, no key prefix), so a fixed name would let two centres sharing a Redis server (other database numbers
    or prefixes) push their emits to each other's sockets; the channel is named after the prefix and the
    database number unless ``SOCKETIO_CHANNEL`` (env ``KEFU_SOCKETIO_CHANNEL``) says otherwise."""
    if config.get("SOCKETIO_CHANNEL"):
        return config["SOCKETIO_CHANNEL"]
    url = config.get("SOCKETIO_MESSAGE_QUEUE") or config.get("REDIS_URL") or ""
    db_number = urlsplit(url).path.strip("/") or "0"
    return f"{config['REDIS_PREFIX']}socketio:{db_number}"


def create_app(config: type[Config] | str | None = None, **overrides) -> Flask:
    """Build the app: bind extensions, then call each package's init_app in PACKAGES order."""
    if config is None or isinstance(config, str):
        config = config_by_name(config or os.environ.get("KEFU_CONFIG"))
    config.init()
    app = Flask(__name__, instance_path=config.INSTANCE_DIR, template_folder="templates", static_folder="static")
    app.session_interface = SocketSessionInterface()
    app.config.from_object(config)
    app.config.update(overrides)
    clock.configure(app.config["CLOCK_SPEED"])
    # Before any route exists: bounded int ids, security headers, request size caps (security.py).
    init_security(app)

    _postgres_session_options(app)
    db.init_app(app)
    _sqlite_pragmas(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "migrations"))
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    redis_store.init_app(app)
    socketio.init_app(
        app,
        async_mode=effective_mode(app.config["ASYNC_MODE"]),
        message_queue=app.config.get("SOCKETIO_MESSAGE_QUEUE"),
        channel=socketio_channel(app.config),
        # None = same origin only (the Host header): a page on another site cannot open a socket with our
        # cookies. ([] would switch the origin check off altogether.)
        cors_allowed_origins=app.config.get("SOCKETIO_ALLOWED_ORIGINS"),
        max_http_buffer_size=64 * 1024,
        serializer=SocketPacket,
        json=SocketJSON,
    )
    handle_quick_events_inline(socketio.server)  # the chat's per-line events skip a task each (concurrency.py)

    import importlib

    # Models are imported before init_app so that create_all sees every table.
    for name in (
        "accounts.models",
        "contacts.models",
        "routing.models",
        "tickets.models",
        "knowledge_base.models",
        "simulator.models",
        "scenarios.models",
        "theory.models",
        "understanding.models",
        "tasks.models",
        "roleplay.models",
    ):
        importlib.import_module(name)
    for name in PACKAGES:
        importlib.import_module(name).init_app(app)

    import labels  # the human labels of stored codes, as Jinja filters (labels.py)

    labels.init_app(app)

    @app.context_processor
    def inject_locale():
        return {"current_locale": current_lang(), "languages": app.config["LANGUAGES"]}

    _error_handlers(app)

    @app.route("/")
    def index():
        if not current_user.is_authenticated:
            return redirect(url_for("accounts.login"))
        return redirect(url_for("accounts.home"))

    return app


def _error_handlers(app: Flask) -> None:
    """JSON errors for /api/ and clear pages elsewhere; CSRF failures say what was wrong."""
    from flask import jsonify, render_template
    from flask_wtf.csrf import CSRFError
    from werkzeug.exceptions import HTTPException

    def wants_json() -> bool:
        return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"

    @app.errorhandler(CSRFError)
    def csrf_error(e):
        if wants_json():
            return jsonify(error=f"CSRF check failed: {e.description}"), 400
        return render_template("error.html", code=400, message=e.description), 400

    @app.errorhandler(HTTPException)
    def http_error(e):
        if wants_json():
            return jsonify(error=e.description or e.name), e.code
        # Werkzeug's stock descriptions are English: the page then says it in the reader's language instead.
        own = e.description if e.description and e.description != type(e).description else None
        return render_template("error.html", code=e.code, message=own), e.code

    @app.errorhandler(Exception)
    def unexpected(e):
        app.logger.exception("unhandled error on %s", request.path)
        db.session.rollback()
        if wants_json():
            return jsonify(error="internal error; it has been logged"), 500
        return render_template("error.html", code=500, message=None), 500


def _postgres_session_options(app: Flask) -> None:
    """Every PostgreSQL connection ends a transaction left idle for ``DB_IDLE_IN_TRANSACTION_SECONDS`` (the server
    ends the session): a host stalled in the middle of a write (a paused VM, SIGSTOP, a machine starved of CPU) held
    the rows it had written - a simulated customer's or an exercise's lease row, a contact's - until TCP noticed,
    which on a host that is merely stopped is never, so nobody could take its customers over. Its own write then
    fails when it resumes, nothing of it committed, and its connection is discarded: the pool pre-pings a
    connection before lending it (config.py). Set at connect time (libpq's ``options``); PgBouncer needs
    ``ignore_startup_parameters = options``, or 0 here and the setting on the server."""
    seconds = float(app.config.get("DB_IDLE_IN_TRANSACTION_SECONDS") or 0)
    if seconds <= 0 or not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        return
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})  # the config class's dict stays as it is
    connect_args = dict(options.get("connect_args") or {})
    setting = f"-c idle_in_transaction_session_timeout={max(1, round(seconds * 1000))}"
    connect_args["options"] = " ".join(filter(None, (connect_args.get("options"), setting)))
    options["connect_args"] = connect_args
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _sqlite_pragmas(app: Flask) -> None:
    """SQLite serves many threads here: WAL and a busy timeout keep writers from failing on a locked file."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    from sqlalchemy import event

    with app.app_context():

        @event.listens_for(db.engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        if effective_mode(app.config["ASYNC_MODE"]) == "gevent":
            serialise_sqlite_writers(db.engine)


def start_background_services(app: Flask) -> None:
    """Start what runs beside the web server: the media loop, the periodic ticker (ACW timers, callbacks,
    the simulator's clock), and the simulator. Called by ``main`` and by the live test server."""
    from routing.ticker import register_periodic, start_ticker
    from tickets.callbacks import tick_callbacks

    _leave_at_exit(app)  # first: exit handlers run last-registered first, and this one is to run after the others
    media_loop.start()
    from channels.email.smtp import start_smtp

    start_smtp(app)
    if "kefu_media" in app.extensions:  # the voice channel: close calls cut off by a restart, serve new ones
        from channels.voice.service import start_media

        start_media(app)
    register_periodic(app, tick_callbacks)  # the simulator registers its own tick in its init_app
    start_ticker(app)  # rebuilds the waiting queues from the database first
    if "chat" in app.config["ENABLED_CHANNELS"]:
        from channels.chat.admission import start_lag_probe

        start_lag_probe(app)  # the chat's door refuses new chats while the event loop runs late
    sim = app.extensions.get("kefu_simulator")
    if sim is not None and app.config.get("SIMULATOR_ENABLED"):
        sim.ensure_started()
    _stop_grading_at_exit(app)
    _stop_simulator_at_exit(app)  # registered last, so it runs first: nothing drives a customer once we are going


def _stop_grading_at_exit(app: Flask) -> None:
    """Auto-grading's consumer and sweep threads end at the process's exit (Ctrl-C, the end of ``main``), after
    the grading in progress, as the media worker's calls are closed (channels/voice/service.py): cut off in the
    middle, a grading commits nothing and its wrap-up waits, unacknowledged, for another process to claim it once
    this one's heartbeat has expired. (``main`` turns SIGTERM into such an exit: ``_exit_on_sigterm``.)"""
    import atexit

    grader = app.extensions.get("kefu_grading")
    if grader is not None:
        atexit.register(grader.stop)


def _stop_simulator_at_exit(app: Flask) -> None:
    """At the process's exit, before its heartbeat is deleted (``_leave_at_exit``), the simulated customers it drives
    itself (no simulator worker) stop being driven: the ticker that ticks the engine, the group rooms' audience and
    the email customers stops, then the engine's worker and its consumers of the shared log (``simulator.stop``).
    Left running, they went on replying for its customers and claiming log entries about them after the heartbeat
    had gone - when another process may already have adopted them - until the interpreter went down."""
    import atexit

    from routing.ticker import TICKER_KEY

    def stop() -> None:
        ticker = app.extensions.get(TICKER_KEY)
        if ticker is not None:
            ticker.stop()
        import simulator

        simulator.stop(app)

    atexit.register(stop)


def _leave_at_exit(app: Flask) -> None:
    """At the process's exit, once the other exit handlers have stopped its work, the liveness supervisor (started
    with the ticker in a served app) stops and its heartbeat is deleted, as a simulator worker does
    (simulator/cli.py): another process then adopts what this one held (its simulated customers, its desks'
    presence, what it left pending in the event log) on its next beat rather than once the heartbeat has expired."""
    import atexit

    liveness = app.extensions.get("kefu_liveness")
    if liveness is not None:
        atexit.register(liveness.leave)


def _exit_on_sigterm() -> None:
    """SIGTERM - what process managers (systemd, Docker, Kubernetes, supervisord) send to stop a service - ends the
    process as a clean exit (SystemExit, status 0), so its exit handlers run: auto-grading's threads stop after the
    grading in progress, the media worker closes its calls, the heartbeat is deleted. Its default action runs none
    of them. The handler runs on the main thread, which serves in both async modes: under werkzeug (threading) the
    exception leaves serve_forever; under gevent the hub, where the handler runs, throws it into the main greenlet
    waiting in serve_forever. A second SIGTERM while the exit handlers run is ignored, so it cannot cut them off
    (SIGKILL still can)."""

    def terminate(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, terminate)


FULL_GC_AFTER = 1000  # middle-generation collections between two full ones (CPython's default: 10)


def main() -> None:
    _exit_on_sigterm()
    app = create_app()
    start_background_services(app)
    # What is loaded by now (the app, jieba's dictionary, the KB search indexes, ~190k objects) lives as long as
    # the process: take it out of the cyclic collector's walks. A full collection cost ~0.1 s of CPU with it in,
    # a pause every socket of a gevent server waits out; now it walks only what serving creates.
    gc.freeze()
    # A full collection walks every live object the sockets hold (~180k at 1,000 chats, ~160 ms with the one gevent
    # thread stopped); by the default rule (every 10th middle collection, once a quarter more objects have been
    # promoted) it ran every ~7 s under chat load and made the whole p99 (bench/README.md, "GC pauses"). Young and
    # middle collections stay as they are (2-8 ms); a full one waits for 1,000 middle ones (~15 min under load).
    # What only a full collection frees (reference cycles, ~10,000 objects a minute at that load) waits that long.
    gen0, gen1, _ = gc.get_threshold()
    gc.set_threshold(gen0, gen1, FULL_GC_AFTER)
    host = os.environ.get("KEFU_HOST", "127.0.0.1")
    port = int(os.environ.get("KEFU_PORT", 5000))
    print(f"serving on http://{host}:{port} in {socketio.async_mode} mode", flush=True)
    socketio.run(app, host=host, port=port, **server_options(socketio.async_mode))


if __name__ == "__main__":
    main()
