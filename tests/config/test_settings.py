"""The same code runs on the embedded default or on external PostgreSQL and Redis."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json
from django.conf import settings
print(json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "host": settings.DATABASES["default"]["HOST"],
    "name": settings.DATABASES["default"]["NAME"],
    "embedded": str(settings.EMBEDDED_PGDATA),
    "broker": "redis" if "redis" in settings.Q_CLUSTER else settings.Q_CLUSTER.get("orm"),
    "layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "layer_time_zone_key": "TIME_ZONE" in settings.CHANNEL_LAYERS["default"].get("CONFIG", {}),
    "cache": settings.CACHES["default"]["BACKEND"],
}))
"""


def settings_with(**env):
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    environment.update(env, DJANGO_SETTINGS_MODULE="config.settings")
    code = "import django; django.setup()\n" + PROBE
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_external_database_and_redis_replace_the_embedded_defaults():
    loaded = settings_with(
        DATABASE_URL="postgres://aviary:secret@db.internal:5433/aviary_prod", REDIS_URL="redis://cache.internal:6379/2"
    )
    assert loaded == {
        "engine": "django_tenants.postgresql_backend",
        "host": "db.internal",
        "name": "aviary_prod",
        "embedded": "None",
        "broker": "redis",
        "layer": "channels_redis.core.RedisChannelLayer",
        "layer_time_zone_key": False,
        "cache": "django.core.cache.backends.redis.RedisCache",
    }


def test_without_them_everything_is_embedded(tmp_path):
    # The test cluster runs already; point at it so nothing new is initialised.
    loaded = settings_with(AVIARY_PGDATA=os.environ["AVIARY_PGDATA"], AVIARY_VAR_DIR=str(tmp_path))
    assert loaded["engine"] == "django_tenants.postgresql_backend"
    assert loaded["embedded"] == str(Path(os.environ["AVIARY_PGDATA"]))
    assert loaded["broker"] == "default"
    assert loaded["layer"] == "channels_postgres.core.PostgresChannelLayer"
    assert loaded["layer_time_zone_key"] is True
    assert loaded["cache"] == "django.core.cache.backends.db.DatabaseCache"
