"""Django settings for the Airflow Control Panel.

Everything an operator may change is read from the environment through ``controlpanel.env``
(each variable can also be given as ``NAME_FILE``). With nothing set except ``DEBUG=1`` the
panel runs locally on SQLite and a Redis on localhost.
"""

import ipaddress
import logging
import os
import re
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from controlpanel.env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_str,
    parse_database_url,
)
from controlpanel.security_headers import CONTENT_SECURITY_POLICY

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)

# Only ever used with DEBUG on; the "django-insecure" prefix makes `check --deploy` flag it.
_DEV_SECRET_KEY = "django-insecure-airflow-control-panel-local-development-only"  # noqa: S105

_HOW_TO_SET_THE_KEY = (
    "Set the SECRET_KEY environment variable (or SECRET_KEY_FILE, the path of a file "
    "holding it) to a random string of at least 32 characters, for example the output of: "
    'python -c "import secrets; print(secrets.token_urlsafe(50))". '
    "For local development only, DEBUG=1 runs with a built-in key instead."
)


def _secret_key(configured: str, debug: bool) -> str:
    """Return the key to sign sessions and tokens with, refusing a weak one in production.

    The value itself is never echoed in the error: it may be a real, merely short, secret.
    """
    if debug:
        return configured or _DEV_SECRET_KEY
    if not configured:
        raise ImproperlyConfigured(f"SECRET_KEY is not set. {_HOW_TO_SET_THE_KEY}")
    if len(configured) < 32 or configured.startswith("django-insecure"):
        raise ImproperlyConfigured(f"SECRET_KEY is too weak. {_HOW_TO_SET_THE_KEY}")
    return configured


SECRET_KEY = _secret_key(env_str("SECRET_KEY", ""), DEBUG)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # Before staticfiles so `runserver` serves static files the way production does.
    "whitenoise.runserver_nostatic",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "axes",
    "controlpanel",
]

MIDDLEWARE = [
    # First: every response (redirects and errors too) gets an id and is counted.
    "controlpanel.request_id.RequestIdMiddleware",
    "controlpanel.metrics.RequestMetricsMiddleware",
    # Before anything reads the body: API clients get a JSON 413, not Django's HTML 400.
    "controlpanel.api.middleware.ApiBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before WhiteNoise, so static files get these headers too.
    "controlpanel.security_headers.SecurityHeadersMiddleware",
    # Right after SecurityMiddleware, as WhiteNoise documents, so static responses still
    # get the security headers but skip the rest of the stack.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes documents: turns a refused login into the lockout page (429).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "controlpanel.urls"
WSGI_APPLICATION = "controlpanel.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "controlpanel.live_updates.panel_status",
                "controlpanel.views.approvals.approvals_badge",
                "controlpanel.views.overview.overview_link",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------

# var/ holds the default SQLite database (and local run files such as a test database);
# create it so a fresh checkout runs with nothing configured.
(BASE_DIR / "var").mkdir(exist_ok=True)
_DATABASE_URL = env_str("DATABASE_URL", "")
if _DATABASE_URL:
    DATABASES = {"default": parse_database_url(_DATABASE_URL, BASE_DIR)}
else:
    DATABASES = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "var" / "db.sqlite3"}
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web app and Celery workers write at the same time: WAL lets readers go on while a
    # writer commits, IMMEDIATE transactions queue writers instead of failing with "database
    # is locked", and the timeout is how long a writer waits for its turn.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file (named per test process) so a real Celery worker can share it.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / f"test-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation -------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Security -------------------------------------------------------------------------------

# Cookies marked Secure are not sent over plain HTTP, which would break a local DEBUG run.
SECURE_COOKIES = env_bool("SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
# A refused form says why and offers a way back; the trigger form comes back filled in.
CSRF_FAILURE_VIEW = "controlpanel.views.errors.csrf_failure"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# The Content-Security-Policy (controlpanel/security_headers.py). Off under DEBUG, where
# Django's own error pages carry inline script and style.
PANEL_CSP = "" if DEBUG else CONTENT_SECURITY_POLICY

# Behind a TLS-terminating proxy (the deployment the README describes): trust its
# X-Forwarded-Proto header, redirect http to https, and send HSTS.
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", BEHIND_TLS_PROXY)
# /healthz stays reachable over plain http for the load balancer's probes.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if BEHIND_TLS_PROXY else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)

# --- Email (notifications; the console backend prints them when no host is set) ------------

EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "airflow-panel@localhost")

# --- Login lockout (django-axes) -------------------------------------------------------------

# After LOGIN_FAILURE_LIMIT failed logins for one username from one address, logins for that
# username from that address are refused for LOGIN_COOLOFF_MINUTES (README: "Login lockout").
# The pair, not the username alone, so nobody can lock a colleague out from elsewhere.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_COOLOFF_MINUTES = env_int("LOGIN_COOLOFF_MINUTES", 15)
if LOGIN_FAILURE_LIMIT < 1 or LOGIN_COOLOFF_MINUTES < 1:
    raise ImproperlyConfigured(
        "LOGIN_FAILURE_LIMIT and LOGIN_COOLOFF_MINUTES must be whole numbers of at least 1, got "
        f"{LOGIN_FAILURE_LIMIT} and {LOGIN_COOLOFF_MINUTES}."
    )
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out login before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    # Then the directory, when LDAP_SERVER_URI is set (it answers None otherwise), then the
    # panel's own passwords: README "LDAP and Active Directory".
    "controlpanel.ldap_backend.DirectoryLDAPBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The address the audit trail records, so lockouts and audit events name the same client.
AXES_CLIENT_IP_CALLABLE = "controlpanel.audit.client_ip"
AXES_RESET_ON_SUCCESS = True
# Attempts during a lockout are refused without extending it: the page's "15 minutes" holds.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "controlpanel.views.auth.locked_out"
AXES_USERNAME_CALLABLE = "controlpanel.views.auth.lockout_username"
# Logins, logouts and lockouts are in the audit trail already (and no start-up banner on
# every management command).
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False

# --- Single sign-on: OpenID Connect (README: "Single sign-on") -------------------------------

OIDC_ISSUER_URL = env_str("OIDC_ISSUER_URL", "").rstrip("/")
OIDC_CLIENT_ID = env_str("OIDC_CLIENT_ID", "")
OIDC_CLIENT_SECRET = env_str("OIDC_CLIENT_SECRET", "")
OIDC_SCOPES = env_str("OIDC_SCOPES", "openid email profile groups")
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "groups")
OIDC_USERNAME_CLAIM = env_str("OIDC_USERNAME_CLAIM", "preferred_username")
OIDC_ALLOW_INSECURE_HTTP = env_bool("OIDC_ALLOW_INSECURE_HTTP", False)
OIDC_TOKEN_AUTH_METHOD = env_str("OIDC_TOKEN_AUTH_METHOD", "client_secret_basic")
OIDC_LOGIN_LABEL = env_str("OIDC_LOGIN_LABEL", "Sign in with single sign-on")
OIDC_TIMEOUT_SECONDS = env_float("OIDC_TIMEOUT_SECONDS", 10.0)
# Off: the login page offers single sign-on only; superusers keep a password page apart.
PASSWORD_LOGIN = env_bool("PASSWORD_LOGIN", True)


# --- Sign-in through LDAP / Active Directory (README: "LDAP and Active Directory") -----------

# The password form asks the directory first; controlpanel/ldap_backend.py builds
# django-auth-ldap's configuration from these (nothing happens while LDAP_SERVER_URI is empty).
LDAP_SERVER_URI = env_str("LDAP_SERVER_URI", "")
LDAP_BIND_DN = env_str("LDAP_BIND_DN", "")
LDAP_BIND_PASSWORD = env_str("LDAP_BIND_PASSWORD", "")
LDAP_USER_SEARCH_BASE = env_str("LDAP_USER_SEARCH_BASE", "")
LDAP_USER_FILTER = env_str("LDAP_USER_FILTER", "(uid=%(user)s)")
# The panel username is this attribute's value as the directory spells it, not as typed.
LDAP_USERNAME_ATTRIBUTE = env_str("LDAP_USERNAME_ATTRIBUTE", "uid")
LDAP_GROUP_SEARCH_BASE = env_str("LDAP_GROUP_SEARCH_BASE", "")
LDAP_GROUP_TYPE = env_str("LDAP_GROUP_TYPE", "groupOfNames")
LDAP_START_TLS = env_bool("LDAP_START_TLS", False)
LDAP_CA_CERT_FILE = env_str("LDAP_CA_CERT_FILE", "")
LDAP_TIMEOUT_SECONDS = env_float("LDAP_TIMEOUT_SECONDS", 5.0)


def _ldap_problem() -> str:
    """What is wrong with the LDAP settings, or ''."""
    if not LDAP_SERVER_URI:
        return ""
    if not LDAP_SERVER_URI.startswith(("ldap://", "ldaps://")):
        return f"LDAP_SERVER_URI must be an ldap:// or ldaps:// URL, got {LDAP_SERVER_URI!r}."
    if not LDAP_USER_SEARCH_BASE:
        return "LDAP_SERVER_URI is set: set LDAP_USER_SEARCH_BASE too (where the users are)."
    if "%(user)s" not in LDAP_USER_FILTER:
        return f"LDAP_USER_FILTER must contain %(user)s, got {LDAP_USER_FILTER!r}."
    if LDAP_GROUP_TYPE not in ("groupOfNames", "memberOf"):
        return f"LDAP_GROUP_TYPE must be groupOfNames or memberOf, got {LDAP_GROUP_TYPE!r}."
    if LDAP_GROUP_TYPE == "groupOfNames" and not LDAP_GROUP_SEARCH_BASE:
        return "LDAP_GROUP_TYPE=groupOfNames needs LDAP_GROUP_SEARCH_BASE (where the groups are)."
    return ""


if _ldap_problem():
    raise ImproperlyConfigured(_ldap_problem())


def _oidc_problem() -> str:
    """What is wrong with the single sign-on settings, or ''."""
    if not OIDC_ISSUER_URL:
        return (
            ""
            if PASSWORD_LOGIN or LDAP_SERVER_URI
            else "PASSWORD_LOGIN=0 needs a directory: set OIDC_ISSUER_URL or LDAP_SERVER_URI."
        )
    if not (OIDC_CLIENT_ID and OIDC_CLIENT_SECRET):
        return "OIDC_ISSUER_URL is set: set OIDC_CLIENT_ID and OIDC_CLIENT_SECRET too."
    if not OIDC_ISSUER_URL.startswith(("https://", "http://")):
        return f"OIDC_ISSUER_URL must be an https:// URL, got {OIDC_ISSUER_URL!r}."
    if OIDC_ISSUER_URL.startswith("http://") and not OIDC_ALLOW_INSECURE_HTTP:
        return (
            "OIDC_ISSUER_URL is plain http://, so tokens would cross the network readable: use "
            "https://, or set OIDC_ALLOW_INSECURE_HTTP=1 for a local test provider."
        )
    if OIDC_TOKEN_AUTH_METHOD not in ("client_secret_basic", "client_secret_post"):
        return (
            "OIDC_TOKEN_AUTH_METHOD must be client_secret_basic or client_secret_post, got "
            f"{OIDC_TOKEN_AUTH_METHOD!r}."
        )
    if "openid" not in OIDC_SCOPES.split():
        return f"OIDC_SCOPES must include openid, got {OIDC_SCOPES!r}."
    return ""


if _oidc_problem():
    raise ImproperlyConfigured(_oidc_problem())

# --- Sign-in through the directory (README: "Directory groups") -----------------------------

# Directory groups (names or DNs, comma separated) whose members are panel admins or audit
# reviewers, per directory provider; each provider's sign-in passes its own name to
# services.directory, which applies one mapping whatever the provider. Group -> team
# mappings live on the teams themselves (Team.directory_groups).
DIRECTORY_ROLE_GROUPS: dict[str, dict[str, list[str]]] = {
    "oidc": {
        "admin": env_list("OIDC_ADMIN_GROUPS", []),
        "auditor": env_list("OIDC_AUDITOR_GROUPS", []),
    },
    # Group DNs or names (the groups' cn), as the directory spells them (case aside).
    "ldap": {
        "admin": env_list("LDAP_ADMIN_GROUPS", []),
        "auditor": env_list("LDAP_AUDITOR_GROUPS", []),
    },
}

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# Fernet keys for connection secrets at rest, newest first (see controlpanel/crypto.py).
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS", [])

# --- Audit trail (README: Audit trail) -------------------------------------------------------

# HMAC keys that sign the audit chain and its checkpoints, newest first (see audit_keys.py).
AUDIT_HMAC_KEYS = env_list("AUDIT_HMAC_KEYS", [])
# Signed checkpoints (event count and head) go here, one file each, outside the database.
AUDIT_CHECKPOINT_DIR = Path(
    env_str("AUDIT_CHECKPOINT_DIR", str(BASE_DIR / "var" / "audit-checkpoints"))
)
AUDIT_CHECKPOINT_SECONDS = env_float("AUDIT_CHECKPOINT_SECONDS", 600.0)

# --- Static files ---------------------------------------------------------------------------

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"

# The manifest storage needs `collectstatic` to have run; development and the test suite
# (which sets STATIC_MANIFEST=0) use plain storage so templates render without it.
STATIC_MANIFEST = env_bool("STATIC_MANIFEST", not DEBUG)
if not STATIC_MANIFEST:
    # Files are then served straight from STATICFILES_DIRS; an empty STATIC_ROOT keeps
    # WhiteNoise from warning on every request handler about a directory nobody needs yet.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if STATIC_MANIFEST
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- REST API -------------------------------------------------------------------------------

# Requests per token (per user for sessions), e.g. "600/minute"; unit second|minute|hour|day.
API_THROTTLE_RATE = env_str("API_THROTTLE_RATE", "600/minute").strip()
if not re.fullmatch(r"[1-9][0-9]*/(second|minute|hour|day)", API_THROTTLE_RATE):
    raise ImproperlyConfigured(
        f"API_THROTTLE_RATE must look like 600/minute (a count, then /second, /minute, /hour "
        f"or /day), got {API_THROTTLE_RATE!r}."
    )

# Input limits, enforced before anything reaches a service or Airflow (controlpanel.limits).
# The body limit is Django's own: bigger bodies are refused before they are read.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BYTES", 1024 * 1024)
CONF_MAX_DEPTH = env_int("CONF_MAX_DEPTH", 32)
CONF_MAX_KEYS = env_int("CONF_MAX_KEYS", 1000)
CONF_MAX_BYTES = env_int("CONF_MAX_BYTES", 256 * 1024)
NOTE_MAX_CHARS = env_int("NOTE_MAX_CHARS", 1000)
for _name in ("CONF_MAX_DEPTH", "CONF_MAX_KEYS", "CONF_MAX_BYTES", "NOTE_MAX_CHARS"):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be at least 1, got {globals()[_name]}.")
if DATA_UPLOAD_MAX_MEMORY_SIZE < 1024:
    raise ImproperlyConfigured(
        f"MAX_REQUEST_BYTES must be at least 1024, got {DATA_UPLOAD_MAX_MEMORY_SIZE}."
    )

# --- Approvals (README: Approvals) -----------------------------------------------------------

# A pending approval request expires this many hours after it was made.
APPROVAL_TTL_HOURS = env_int("APPROVAL_TTL_HOURS", 24)
if APPROVAL_TTL_HOURS < 1:
    raise ImproperlyConfigured(f"APPROVAL_TTL_HOURS must be at least 1, got {APPROVAL_TTL_HOURS}.")
# Panel admins trigger without approval only when this is set.
APPROVAL_ADMINS_EXEMPT = env_bool("APPROVAL_ADMINS_EXEMPT", False)
# How often the worker looks for pending requests past their expiry.
APPROVAL_EXPIRY_CHECK_SECONDS = env_float("APPROVAL_EXPIRY_CHECK_SECONDS", 300.0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First, so requests without credentials get 401 with a Bearer challenge.
        "controlpanel.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "controlpanel.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "controlpanel.api.errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {"api": API_THROTTLE_RATE},
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Airflow Control Panel API",
    "DESCRIPTION": "Pause, unpause and trigger Airflow DAGs under the panel's team rules.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RunSourceEnum": "controlpanel.models.catalog.Run.Source",
        "AuditSourceEnum": "controlpanel.models.audit.AuditEvent.Source",
    },
}

# --- Celery ---------------------------------------------------------------------------------

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
# API throttle counters live in Redis, so every web process (gunicorn worker, container)
# shares one budget per token; the throttle lets requests through while Redis is down.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "throttle": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "panel-throttle",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    },
}
# A task is acknowledged only once it has finished, so a worker killed mid-task hands it
# back to the queue; tasks are written to be safe to run twice. Prefetching one at a time
# keeps a slow task from holding others hostage on a busy worker.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
# Tests give each run its own queue so parallel suites sharing a Redis never swap tasks.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "panel")
# Publishing must not hang a web request when Redis is down: fail fast, the page says so.
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5}

# --- Run tracking ---------------------------------------------------------------------------

POLL_INTERVAL_SECONDS = env_float("POLL_INTERVAL_SECONDS", 5.0)
CATALOG_SYNC_SECONDS = env_float("CATALOG_SYNC_SECONDS", 60.0)
STALE_RUN_SECONDS = env_float("STALE_RUN_SECONDS", 120.0)
# A poll holds its profile's Redis lock at most this long (a killed worker's lock expires).
POLL_LOCK_SECONDS = env_float("POLL_LOCK_SECONDS", 120.0)
# After a failed poll a profile waits 5 s, then 10, 20 ... up to this many seconds.
POLL_BACKOFF_MAX_SECONDS = env_float("POLL_BACKOFF_MAX_SECONDS", 300.0)
# `manage.py prune_history` forgets finished runs older than this; 0 keeps them forever.
HISTORY_RETENTION_DAYS = env_int("HISTORY_RETENTION_DAYS", 0)


def _networks(name: str, default: list[str]) -> list[str]:
    """IP networks (CIDRs or single addresses), comma separated; a bad one stops the start."""
    try:
        return [str(ipaddress.ip_network(item, strict=False)) for item in env_list(name, default)]
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must list IP addresses or networks: {exc}") from None


# --- Notifications (README: Notifications) ---------------------------------------------------

# The panel's public address, for the run links in notifications.
PANEL_BASE_URL = env_str("PANEL_BASE_URL", "http://localhost:8000").strip().rstrip("/")
if not re.fullmatch(r"https?://[^/\s]+(/\S*)?", PANEL_BASE_URL):
    raise ImproperlyConfigured(
        f"PANEL_BASE_URL must be the panel's address, like https://panel.example.com, "
        f"got {PANEL_BASE_URL!r}."
    )
NOTIFY_MAX_ATTEMPTS = max(1, env_int("NOTIFY_MAX_ATTEMPTS", 5))
# Retries wait this long, then twice as long each time (30 s, 60 s, 120 s, 240 s).
NOTIFY_RETRY_BASE_SECONDS = env_float("NOTIFY_RETRY_BASE_SECONDS", 30.0)
NOTIFY_WEBHOOK_TIMEOUT_SECONDS = env_float("NOTIFY_WEBHOOK_TIMEOUT_SECONDS", 10.0)
# A run first seen already finished is notified only if it ended this recently.
NOTIFY_RECENT_SECONDS = env_float("NOTIFY_RECENT_SECONDS", 600.0)
# Webhooks need https (plain http only to this machine) unless this is on.
NOTIFY_WEBHOOK_ALLOW_HTTP = env_bool("NOTIFY_WEBHOOK_ALLOW_HTTP", False)
# Webhooks to loopback, link-local (cloud metadata), private or other non-public addresses
# are refused unless the address is in one of these networks.
NOTIFY_WEBHOOK_ALLOWED_NETWORKS = _networks("NOTIFY_WEBHOOK_ALLOWED_NETWORKS", [])

# The single place periodic tasks are declared.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "poll-active-runs": {
        "task": "controlpanel.tasks.poll_all_profiles",
        "schedule": POLL_INTERVAL_SECONDS,
        "options": {"expires": POLL_INTERVAL_SECONDS},
    },
    "sync-dag-catalogs": {
        "task": "controlpanel.tasks.sync_all_catalogs",
        "schedule": CATALOG_SYNC_SECONDS,
        "options": {"expires": CATALOG_SYNC_SECONDS},
    },
    "send-overdue-notifications": {
        "task": "controlpanel.tasks.send_overdue_notifications",
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
    "expire-approval-requests": {
        "task": "controlpanel.tasks.expire_approval_requests",
        "schedule": APPROVAL_EXPIRY_CHECK_SECONDS,
        "options": {"expires": APPROVAL_EXPIRY_CHECK_SECONDS},
    },
    "write-audit-checkpoint": {
        "task": "controlpanel.tasks.write_audit_checkpoint",
        "schedule": AUDIT_CHECKPOINT_SECONDS,
        "options": {"expires": AUDIT_CHECKPOINT_SECONDS},
    },
}

# --- Logging --------------------------------------------------------------------------------

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").strip().upper()
if LOG_LEVEL not in logging.getLevelNamesMapping():
    raise ImproperlyConfigured(
        f"LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got {LOG_LEVEL!r}."
    )

# plain: "time LEVEL logger [request id]: message"; json: one JSON object per line.
LOG_FORMAT = env_str("LOG_FORMAT", "plain").strip().lower()
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, got {LOG_FORMAT!r}.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "controlpanel.logs.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"},
        "json": {"()": "controlpanel.logs.JsonFormatter"},
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["stderr"], "level": LOG_LEVEL},
    "loggers": {
        # Replaces Django's own console handler, which would print every line twice.
        "django": {"handlers": ["stderr"], "level": LOG_LEVEL, "propagate": False},
    },
}

# --- Metrics (Prometheus, /metrics) ---------------------------------------------------------


METRICS_ALLOWED_IPS = _networks("METRICS_ALLOWED_IPS", ["127.0.0.1/32", "::1/128"])
# Or from anywhere with "Authorization: Bearer <METRICS_TOKEN>" (METRICS_TOKEN_FILE works too).
METRICS_TOKEN = env_str("METRICS_TOKEN", "").strip()
if METRICS_TOKEN and len(METRICS_TOKEN) < 16:
    raise ImproperlyConfigured("METRICS_TOKEN is too short: use at least 16 random characters.")
