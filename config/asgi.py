import gc
import os

from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
if not settings.configured:
    # This process is the web server: pooled database connections (see DATABASES). A
    # process that configured Django first (tests) keeps its own, and its children do
    # not inherit the switch.
    os.environ.setdefault("AVIARY_DB_POOL", "1")

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from bots.webhook_lane import SignalWebhookLane  # noqa: E402
from config.access_log import AccessLog  # noqa: E402
from config.routing import websocket_urlpatterns  # noqa: E402
from tenants.websocket import TenantWebsocketMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": AccessLog(SignalWebhookLane(django_asgi_app)),
        "websocket": TenantWebsocketMiddleware(URLRouter(websocket_urlpatterns)),
    }
)

# Everything loaded so far (Django, the apps, the URL and template machinery) lives as long
# as the process. Left to the collector, each full collection walks all of it: 70-110 ms
# in which this process answers nothing.
gc.freeze()
