"""The life of a fake HTTP server: an aiohttp app on 127.0.0.1 with its own event loop
in a background thread, so sync tests can call it from any other loop. Subclasses
answer every request in `_handle` and set `fault_delay`, how long a delayed fault
answer (`_sleep_fault_delay`) waits. Faults queued for the next requests
(`_queue_fault`) come out with `_queued_fault`."""

from __future__ import annotations

import asyncio
import socket
import threading

from aiohttp import web


class LoopbackServer:
    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested: asyncio.Event | None = None
        self._delayed: set[asyncio.Task] = set()
        self._start_error: BaseException | None = None
        self._port: int | None = None
        self._fault_queues: dict[str, list[list]] = {}  # endpoint -> [[fault, remaining count], ...]
        self._fault_queue_lock = threading.Lock()

    def _queue_fault(self, endpoint: str, fault, count: int) -> None:
        """Answer the next `count` requests to `endpoint` (or "*", any) with `fault`."""
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._fault_queue_lock:
            self._fault_queues.setdefault(endpoint, []).append([fault, count])

    def _queued_fault(self, endpoint: str):
        """The fault queued for this request, endpoint-specific ones before "*" ones; or None."""
        with self._fault_queue_lock:
            for key in (endpoint, "*"):
                queue = self._fault_queues.get(key)
                if queue:
                    entry = queue[0]
                    entry[1] -= 1
                    if entry[1] == 0:
                        queue.pop(0)
                    return entry[0]
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raise NotImplementedError

    async def _sleep_fault_delay(self) -> None:
        task = asyncio.current_task()
        self._delayed.add(task)
        try:
            if self._stop_requested.is_set():
                raise asyncio.CancelledError
            await asyncio.sleep(self.fault_delay)
        finally:
            self._delayed.discard(task)

    def start(self):
        name = type(self).__name__
        if self._thread is not None:
            raise RuntimeError(f"{name} is already running")
        # Bind here, not in the thread, so the port is known (and taken) before start returns.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        ready = threading.Event()
        self._start_error = None
        self._thread = threading.Thread(target=self._run, args=(sock, ready), name=f"{name}:{self._port}",
                                        daemon=True)
        self._thread.start()
        if not ready.wait(timeout=5) or self._start_error is not None:
            error = self._start_error
            self.stop()
            raise RuntimeError(f"{name} failed to start") from error
        return self

    def stop(self) -> None:
        thread = self._thread
        if thread is None:
            return
        loop, stop_requested = self._loop, self._stop_requested
        if loop is not None and stop_requested is not None:
            try:
                loop.call_soon_threadsafe(stop_requested.set)
            except RuntimeError:  # the loop already ended (it failed to start)
                pass
        thread.join(timeout=5)
        if thread.is_alive():
            raise RuntimeError(f"{type(self).__name__} did not stop within 5 s")
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://127.0.0.1:{self._port}"

    def _run(self, sock: socket.socket, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(sock, ready))
        except BaseException as error:  # handed to start()
            self._start_error = error
        finally:
            ready.set()
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()
                sock.close()

    async def _serve(self, sock: socket.socket, ready: threading.Event) -> None:
        self._stop_requested = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # shutdown_timeout bounds how long cleanup waits for a handler we failed to cancel.
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.SockSite(runner, sock).start()
            ready.set()
            await self._stop_requested.wait()
            # Delayed fault answers would otherwise hold cleanup for the whole delay; a
            # cancelled handler makes aiohttp drop the connection, like a dying server.
            for task in list(self._delayed):
                task.cancel()
        finally:
            await runner.cleanup()
