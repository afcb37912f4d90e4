"""Aviary settings, driven by environment variables.

With no environment at all this is the embedded default a new user gets from
`make run`: an embedded PostgreSQL under var/, the django-q2 ORM broker, the
channels-postgres layer and a database cache. `DATABASE_URL` and `REDIS_URL` switch to
external services; see docs/configuration.md for every variable.
"""

import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("AVIARY_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept under var/."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def _encryption_keys() -> list[str]:
    """ENCRYPTION_KEYS ("key_id:base64key,..." newest first) from the environment, else
    one key generated once and kept under var/ for development."""
    if keys := env_list("ENCRYPTION_KEYS"):
        return keys
    path = VAR_DIR / "encryption_keys"
    if not path.exists():
        from exchanges.vault import generate_key_spec

        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(generate_key_spec("dev1"))
        path.chmod(0o600)
    return [line for line in path.read_text().split() if line]


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = _secret_key()
# Secrets at rest (exchange credentials): AES-GCM key ring, newest first.
ENCRYPTION_KEYS = _encryption_keys()

# --- hosts and tenancy -------------------------------------------------------------
# `<slug>.<BASE_DOMAIN>` is a workspace, BASE_DOMAIN itself the public site.
BASE_DOMAIN = os.environ.get("BASE_DOMAIN", "localhost")
PORT = int(os.environ.get("PORT", "8000"))
# daphne processes `runplatform` starts on that port.
WEB_PROCESSES = int(os.environ.get("WEB_PROCESSES", "2"))
# Where the public site is reached from outside; used to build links in emails and
# background jobs, when there is no request to take the scheme and port from.
PUBLIC_URL = os.environ.get("PUBLIC_URL", f"http://{BASE_DOMAIN}:{PORT}")
ALLOWED_HOSTS = [BASE_DOMAIN, f".{BASE_DOMAIN}", *env_list("EXTRA_ALLOWED_HOSTS")]
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
USE_X_FORWARDED_HOST = env_bool("USE_X_FORWARDED_HOST", False)
if env_bool("SECURE_PROXY_SSL", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = PUBLIC_URL.startswith("https://")

SHARED_APPS = [
    "django_tenants",
    "tenants",
    "accounts",
    "billing",
    "support",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_q",
    "channels",
    "channels_postgres",
]
TENANT_APPS = [
    "exchanges",
    "bots",
    "alerts",
    "backups",
]
INSTALLED_APPS = ["daphne", *SHARED_APPS, *[app for app in TENANT_APPS if app not in SHARED_APPS]]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
ROOT_URLCONF = "config.urls_tenants"
# New workspaces are copies of this migrated schema (tenants/cloning.py) instead of
# replaying every migration; `migrate_schemas` keeps it current with the workspaces.
TENANT_TEMPLATE_SCHEMA = "tenant_template"

MIDDLEWARE = [
    "tenants.middleware.TenantHostMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The signed-in user's language and time zone, over LocaleMiddleware's guess.
    "accounts.preferences.UserPreferencesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.access.WorkspaceAccessMiddleware",
    "billing.middleware.ReadOnlyWhenExpiredMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenants.context_processors.workspace",
                "billing.context_processors.billing_notice",
            ],
        },
    }
]

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

# --- database ------------------------------------------------------------------------
if os.environ.get("DATABASE_URL"):
    EMBEDDED_PGDATA = None
    _db = dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60, conn_health_checks=True)
else:
    from config import embedded_postgres

    EMBEDDED_PGDATA = Path(os.environ.get("AVIARY_PGDATA", VAR_DIR / "pgdata"))
    _db = embedded_postgres.ensure_running(EMBEDDED_PGDATA, throwaway=env_bool("AVIARY_PGDATA_THROWAWAY", False))
    _db.update(CONN_MAX_AGE=60, CONN_HEALTH_CHECKS=True)

if env_bool("AVIARY_DB_POOL", False):
    # The web server (config/asgi.py sets this): Django runs each ASGI request on a
    # thread of its own, so a persistent connection would be opened per request and
    # never reused. A pool per process keeps a few warm ones.
    _default_db = {**_db, "CONN_MAX_AGE": 0, "OPTIONS": {
        **_db.get("OPTIONS", {}),
        "pool": {"min_size": 2, "max_size": int(os.environ.get("DB_POOL_SIZE", "20")), "timeout": 10},
    }}
else:
    _default_db = _db
DATABASES = {
    "default": {**_default_db, "ENGINE": "django_tenants.postgresql_backend"},
    # channels-postgres opens its own psycopg pool on this alias; same database, and
    # in tests it mirrors the test database.
    "channels_postgres": {**_db, "ENGINE": "django.db.backends.postgresql", "TEST": {"MIRROR": "default"}},
}
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
# Issue `SET search_path` only when the schema changes, not before every query.
# django-tenants forgets the setting on rollback, where PostgreSQL reverts it.
TENANT_LIMIT_SET_CALLS = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis switches the broker, channel layer and cache ------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_postgres.core.PostgresChannelLayer",
            # TIME_ZONE must be present: without it get_channel_layer() quietly returns None.
            "CONFIG": {**DATABASES["channels_postgres"], "TIME_ZONE": None},
        }
    }
    # Shared by web and worker processes, so login throttling and rate limits hold
    # across all of them. The table lives in the public schema (bootstrap creates it).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "aviary_cache"}}

Q_CLUSTER = {
    "name": "aviary",
    "workers": int(os.environ.get("Q_WORKERS", "2")),
    # Engine runners are long tasks (ENGINE_RUN_SECONDS); everything else is short.
    "timeout": 1800,
    "retry": 1900,
    "max_attempts": 1,
    "catch_up": False,
    "save_limit": 1000,
    "label": "Tasks",
    **({"redis": REDIS_URL} if REDIS_URL else {"orm": "default", "poll": 0.5}),
}

# --- exchanges -------------------------------------------------------------------------
# The simulated paper market: every process with the same seed sees the same prices.
PAPER_FEED_SEED = int(os.environ.get("PAPER_FEED_SEED", "0"))
# Per ccxt exchange id: {"api": {urls['api'] entries to replace}, "options": {...}}, for
# tests against a local fake exchange or for a self-hosted gateway.
CCXT_CLIENT_OVERRIDES: dict[str, dict] = {}

# --- accounts ------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = os.environ.get("ACCOUNT_EMAIL_VERIFICATION", "optional")
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_FORMS = {"signup": "accounts.forms.SignupForm"}
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Aviary] "
# Brute force: allauth counts failed logins per IP and per account in the cache.
ACCOUNT_RATE_LIMITS = {
    "login_failed": os.environ.get("LOGIN_FAILED_RATE_LIMIT", "10/m/ip,5/5m/key"),
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Aviary"
HANDOVER_TOKEN_MAX_AGE = 60  # seconds a signed login handover to a workspace host stays valid
INVITATION_MAX_AGE_DAYS = 7

# --- email ---------------------------------------------------------------------------
# EMAIL_BACKEND=console (default), file (into EMAIL_FILE_PATH) or smtp (EMAIL_HOST, ...).
_email_backend = os.environ.get("EMAIL_BACKEND", "console")
MAILERS = {
    "default": {
        "console": {"BACKEND": "django.core.mail.backends.console.EmailBackend"},
        "file": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))},
        },
        "smtp": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": os.environ.get("EMAIL_HOST", "localhost"),
                "port": int(os.environ.get("EMAIL_PORT", "25")),
                "username": os.environ.get("EMAIL_HOST_USER", ""),
                "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
                "use_tls": env_bool("EMAIL_USE_TLS", False),
                "timeout": 10,
            },
        },
    }[_email_backend]
}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", f"Aviary <noreply@{BASE_DOMAIN}>")

# --- i18n ----------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Off: templates print ids and counts into URLs and attributes (`view=bot:{{ bot.pk }}`),
# which grouping would break. Amounts go through the `normalize` filter, which formats
# them for the active locale.
USE_THOUSAND_SEPARATOR = False

# --- static files --------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
# In development whitenoise serves straight from the app and project static dirs.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"redact_secrets": {"()": "config.access_log.RedactSecrets"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_secrets"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's default "django" handler prints raw messages (its "Not Found: <path>"
        # included) beside ours: one handler, with the secrets filter, for everything.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        "embedded_postgres": {"level": "WARNING"},
        "django_tenants": {"level": "WARNING"},
        # It warns on every message to a group nobody listens to: normal for live pushes.
        "channels_postgres": {"level": "ERROR"},
    },
}

# --- trading engine --------------------------------------------------------------------
ENGINE_SHARDS = int(os.environ.get("ENGINE_SHARDS", "2"))
ENGINE_TICK_SECONDS = float(os.environ.get("ENGINE_TICK_SECONDS", "1"))
# A runner holds its shards this long without renewing; a lapsed lease is taken over.
ENGINE_LEASE_SECONDS = float(os.environ.get("ENGINE_LEASE_SECONDS", "15"))
# A runner task hands over (re-enqueues itself) after this long, well inside the q2 timeout.
ENGINE_RUN_SECONDS = float(os.environ.get("ENGINE_RUN_SECONDS", "1500"))
# A bot that keeps meeting exchange errors waits 2, 4, 8 ... seconds, at most this long.
ENGINE_MAX_BACKOFF_SECONDS = float(os.environ.get("ENGINE_MAX_BACKOFF_SECONDS", "60"))
ENGINE_MAX_SHARDS_PER_RUNNER = int(os.environ.get("ENGINE_MAX_SHARDS_PER_RUNNER", "64"))
BOT_SERIES_RETENTION_DAYS = int(os.environ.get("BOT_SERIES_RETENTION_DAYS", "30"))
BOT_CIRCUIT_BREAKER_FAILURES = int(os.environ.get("BOT_CIRCUIT_BREAKER_FAILURES", "5"))
SIGNAL_RATE_PER_MINUTE = int(os.environ.get("SIGNAL_RATE_PER_MINUTE", "120"))

# --- billing -----------------------------------------------------------------------------
# A new workspace starts a trial of this plan for this many days (0: straight on Free).
BILLING_TRIAL_DAYS = int(os.environ.get("BILLING_TRIAL_DAYS", "14"))
BILLING_TRIAL_PLAN = os.environ.get("BILLING_TRIAL_PLAN", "pro")
# After a failed payment, bots keep running this long before the subscription expires.
BILLING_GRACE_DAYS = int(os.environ.get("BILLING_GRACE_DAYS", "7"))
# Owners hear of a trial end, renewal or expiry this many days before it.
BILLING_REMINDER_DAYS = int(os.environ.get("BILLING_REMINDER_DAYS", "3"))
# Empty: billing is not configured; workspaces run on their trial or the Free plan.
STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
# The signing secret of the webhook endpoint (whsec_...); empty: the endpoint refuses everything.
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
# Where the Stripe API is; tests point it at a local fake.
STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "https://api.stripe.com")
