"""Settings for the test suite: the embedded PostgreSQL of `make test` (or DATABASE_URL),
fast password hashing, and in-process cache and channel layer unless a test opts into
the real ones."""

import os
from pathlib import Path

os.environ.setdefault("AVIARY_PGDATA", str(Path(__file__).resolve().parent.parent / "var" / "test-pgdata"))
os.environ.setdefault("AVIARY_PGDATA_THROWAWAY", "1")

from config.settings import *  # noqa: E402,F403
from config.settings import DATABASES  # noqa: E402

# Fixed test keys, newest first (test-only; never used outside the test suite).
ENCRYPTION_KEYS = ["test2:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=", "test1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
# Connections are persistent in production; in tests they must not outlive a test's thread.
for _alias in DATABASES.values():
    _alias["CONN_MAX_AGE"] = 0
