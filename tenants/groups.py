"""Channel layer group names. Every group is prefixed with the tenant's schema, so a
message can only ever reach sockets of that tenant."""


def workspace_group(schema_name: str) -> str:
    return f"{schema_name}.bots"



def bot_group(schema_name: str, bot_id: int) -> str:
    return f"{schema_name}.bot.{bot_id}"
