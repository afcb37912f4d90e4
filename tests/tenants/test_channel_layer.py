"""The embedded default channel layer is channels-postgres; prove it carries a message."""

import asyncio

import channels_postgres.db
import pytest
from asgiref.sync import async_to_sync
from channels.layers import channel_layers, get_channel_layer
from django.db import connection


@pytest.fixture
def postgres_layer(settings):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_postgres.core.PostgresChannelLayer",
            "CONFIG": {**connection.settings_dict, "ENGINE": "django.db.backends.postgresql", "TIME_ZONE": None},
        }
    }
    channel_layers.backends.clear()
    yield get_channel_layer()
    channel_layers.backends.clear()


@pytest.mark.usefixtures("transactional_db")
def test_a_group_message_reaches_a_member_channel_through_postgres(postgres_layer):
    assert postgres_layer is not None

    @async_to_sync
    async def roundtrip():
        channel = await postgres_layer.new_channel()
        await postgres_layer.group_add("ws_acme.bots", channel)
        await postgres_layer.group_send("ws_acme.bots", {"type": "push.html", "html": "<p>tick</p>"})
        try:
            return await asyncio.wait_for(postgres_layer.receive(channel), timeout=5)
        finally:
            # The layer keeps one module-wide pool; close it on the loop that opened it.
            await channels_postgres.db.connection_pool.close()
            channels_postgres.db.connection_pool = None

    assert roundtrip() == {"type": "push.html", "html": "<p>tick</p>"}
