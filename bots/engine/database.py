"""Database work of a runner, off its event loop: a few threads, each with its own
connection, and every workspace always on the same thread. A connection then rarely
changes schema (one `SET search_path` per change), and work for different workspaces
overlaps instead of queueing behind one thread."""

import asyncio
import functools
import zlib
from concurrent.futures import ThreadPoolExecutor

from django.db import close_old_connections, connections

from tenants.schemas import stay_in_schema

THREADS = 4


class SchemaThreads:
    def __init__(self, threads: int = THREADS):
        self.executors = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"engine-db-{n}") for n in range(threads)]

    async def run(self, schema: str, function, *args, **kwargs):
        executor = self.executors[zlib.crc32(schema.encode()) % len(self.executors)]
        return await asyncio.get_running_loop().run_in_executor(
            executor, functools.partial(_in_schema, schema, function, *args, **kwargs)
        )

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(executor, connections.close_all) for executor in self.executors))
        for executor in self.executors:
            executor.shutdown(wait=False)


def _in_schema(schema, function, *args, **kwargs):
    # Like channels' database_sync_to_async: a broken or expired connection is replaced.
    close_old_connections()
    stay_in_schema(schema)
    return function(*args, **kwargs)
