from channels.generic.websocket import AsyncWebsocketConsumer

from tenants.groups import workspace_group


class WorkspaceConsumer(AsyncWebsocketConsumer):
    """Streams HTML fragments (hx-swap-oob) pushed to the workspace's group to a page.

    Only ever reached through TenantWebsocketMiddleware, which has put a verified
    tenant and membership into the scope.
    """

    async def connect(self):
        self.group = workspace_group(self.scope["tenant"].schema_name)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def push_html(self, event):
        await self.send(text_data=event["html"])

    async def bot_status(self, event):
        """A bot's status from the engine or an action. Rendering it into the page's
        partials belongs to the live pages; until a page asks for it, nothing is sent."""
