"""A kafka-python producer in a child process, so its CPU runs beside the event loop, not on it.

kafka-python is pure Python. In the collector's own process its record encoding, CRCs and I/O
thread took over a third of the CPU and competed with the event loop for the one GIL
(`docs/benchmarks.md`). In a child process the same client runs on another core. The parent hands
it the records of each publish (the collector's: one batch of requests) over a socket pair and
hears back once the broker acknowledged all of them; the collector still answers 202 only after that.

Frames, both ways: a 4-byte big-endian length, then a `marshal`led tuple. marshal is C-fast and
only carries plain values; the socket pair joins two halves of one program, never an outside peer.

- parent -> child, first: the configuration (a dict of plain values);
- parent -> child: `(request_id, [(topic, key, value, [(header, value), ...]), ...])`;
- child -> parent, first: `(0, None)` once connected with the topic's metadata, or `(0, reason)`;
- child -> parent: `(request_id, None)` when the broker acknowledged every record, else
  `(request_id, reason)`.

When the parent dies the child reads end-of-file, flushes for a moment and exits. When the child
dies, every request waiting on it fails (the collector answers 503) and the next publish starts a
new child.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import marshal
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from typing import IO, Any, cast

from kafka.errors import KafkaError

from cxpulse_shared.heap import startup_heap_frozen
from cxpulse_shared.kafka import OutgoingRecord, PublishFailed, any_server_accepts, make_producer
from cxpulse_shared.settings import KafkaSettings
from cxpulse_shared.telemetry import configure_logging

logger = logging.getLogger(__name__)

_LENGTH_BYTES = 4
_HELLO_ID = 0
# Long enough for a producer with records still in its buffer to hand them to a live broker.
CHILD_CLOSE_TIMEOUT_S = 5.0


def _frame(message: Any) -> bytes:
    payload = marshal.dumps(message)
    return len(payload).to_bytes(_LENGTH_BYTES, "big") + payload


class ProducerProcessFailed(PublishFailed):
    """The child could not start, or exited while requests were waiting on it."""


class _ChildConnection(asyncio.Protocol):
    """The parent's end: resolves each request's future from the child's answers."""

    def __init__(self) -> None:
        self.waiting: dict[int, asyncio.Future[None]] = {}
        self.lost = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, though uvloop's are not subclasses of asyncio.Transport.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        start = 0
        while len(buffer) - start >= _LENGTH_BYTES:
            end = start + _LENGTH_BYTES + int.from_bytes(buffer[start : start + _LENGTH_BYTES], "big")
            if len(buffer) < end:
                break
            request_id, failure = marshal.loads(memoryview(buffer)[start + _LENGTH_BYTES : end])  # noqa: S302 - our own child
            start = end
            answer = self.waiting.pop(request_id, None)
            if answer is None or answer.done():
                continue  # its request gave up waiting (timeout) before the broker answered
            if failure is None:
                answer.set_result(None)
            else:
                answer.set_exception(PublishFailed(failure))
        del buffer[:start]

    def connection_lost(self, exc: Exception | None) -> None:
        waiting, self.waiting = self.waiting, {}
        for answer in waiting.values():
            if not answer.done():
                answer.set_exception(ProducerProcessFailed("the producer process exited"))
        if not self.lost.done():
            self.lost.set_result(None)

    def send(self, message: Any) -> None:
        assert self.transport is not None
        self.transport.write(_frame(message))


class ProcessPublisher:
    """Publishes through a producer child process; resolves once the broker acknowledged everything.

    Drop-in for the in-process publisher: same `publish`, `broker_reachable` and `close`.
    """

    def __init__(
        self,
        settings: KafkaSettings,
        *,
        topic: str,
        timeout_s: float,
        start_timeout_s: float = 30.0,
        producer_overrides: dict[str, int | str] | None = None,
        log_level: str = "INFO",
    ) -> None:
        self._settings = settings
        self._topic = topic
        self._timeout_s = timeout_s
        self._start_timeout_s = start_timeout_s
        self._overrides = dict(producer_overrides or {})
        self._log_level = log_level
        self._request_ids = itertools.count(_HELLO_ID + 1)
        self._connection: _ChildConnection | None = None
        self._child: asyncio.subprocess.Process | None = None
        self._starting = asyncio.Lock()
        self._last_failure_monotonic = float("-inf")

    async def start(self, *, timeout_s: float | None = None) -> None:
        """Start the child and return once it reached the broker; raises ProducerProcessFailed if not."""
        async with self._starting:
            if self._child_alive():
                return
            await self._stop_child()
            loop = asyncio.get_running_loop()
            parent_end, child_end = socket.socketpair()
            try:
                child = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "cxpulse_shared.producer_process",
                    str(child_end.fileno()),
                    pass_fds=(child_end.fileno(),),
                    stdin=asyncio.subprocess.DEVNULL,
                )
            finally:
                child_end.close()
            transport, connection = await loop.connect_accepted_socket(_ChildConnection, parent_end)
            hello: asyncio.Future[None] = loop.create_future()
            connection.waiting[_HELLO_ID] = hello
            connection.send(
                {
                    "settings": self._settings.model_dump(),
                    "overrides": self._overrides,
                    "topic": self._topic,
                    "log_level": self._log_level,
                }
            )
            try:
                async with asyncio.timeout(timeout_s or self._start_timeout_s):
                    await hello
            except BaseException as error:
                # Also on cancellation: a child nobody talks to must not outlive its start.
                transport.close()
                with contextlib.suppress(ProcessLookupError):
                    child.kill()
                await child.wait()
                if isinstance(error, (TimeoutError, PublishFailed)):
                    raise ProducerProcessFailed(f"the producer process did not reach the broker: {error}") from error
                raise
            self._child = child
            self._connection = connection

    def _child_alive(self) -> bool:
        return self._connection is not None and not self._connection.lost.done()

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        if not records:
            return
        if not self._child_alive():
            await self._restart()
        connection = self._connection
        assert connection is not None
        request_id = next(self._request_ids)
        acknowledged: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        connection.waiting[request_id] = acknowledged
        connection.send((request_id, [(r.topic, r.key, r.value, r.headers) for r in records]))
        try:
            async with asyncio.timeout(self._timeout_s):
                await acknowledged
        except (TimeoutError, PublishFailed) as error:
            self._last_failure_monotonic = time.monotonic()
            raise PublishFailed(f"broker did not acknowledge {len(records)} record(s): {error!r}") from error
        finally:
            # Also when the request is cancelled (client gone): a late answer then finds no one waiting.
            connection.waiting.pop(request_id, None)

    async def _restart(self) -> None:
        try:
            await self.start(timeout_s=self._timeout_s)
        except PublishFailed:
            self._last_failure_monotonic = time.monotonic()
            raise

    async def broker_reachable(self) -> bool:
        """Not ready while publishes fail, the child is down, or no bootstrap server accepts a connection."""
        if time.monotonic() - self._last_failure_monotonic < self._timeout_s:
            return False
        if not self._child_alive():
            try:
                await self._restart()
            except PublishFailed:
                return False
        return await asyncio.to_thread(any_server_accepts, self._settings.bootstrap_servers, timeout_s=1.0)

    async def close(self) -> None:
        await self._stop_child()

    async def _stop_child(self) -> None:
        """Closing our end is the child's signal to flush and exit."""
        connection, self._connection = self._connection, None
        if connection is not None and connection.transport is not None:
            connection.transport.close()
        child, self._child = self._child, None
        if child is None:
            return
        try:
            async with asyncio.timeout(CHILD_CLOSE_TIMEOUT_S + 2.0):
                await child.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            await child.wait()


class _AnswerWriter:
    """The child's end for answers; the producer's I/O thread and the main thread both write."""

    def __init__(self, channel: socket.socket) -> None:
        self._channel = channel
        self._lock = threading.Lock()

    def send(self, message: Any) -> None:
        frame = _frame(message)
        # If the parent is gone, the main loop reads end-of-file and the child exits.
        with self._lock, contextlib.suppress(OSError):
            self._channel.sendall(frame)


class _RequestAcknowledgements:
    """Counts one request's acknowledgements and answers once: all acknowledged, or the first failure."""

    def __init__(self, writer: _AnswerWriter, request_id: int, expected: int) -> None:
        self._writer = writer
        self._request_id = request_id
        self._remaining = expected
        self._answered = False
        self._lock = threading.Lock()

    def acknowledged(self, _metadata: object) -> None:
        with self._lock:
            self._remaining -= 1
            answer_now = self._remaining == 0 and not self._answered
            self._answered = self._answered or answer_now
        if answer_now:
            self._writer.send((self._request_id, None))

    def failed(self, error: BaseException) -> None:
        with self._lock:
            answer_now = not self._answered
            self._answered = True
        if answer_now:
            self._writer.send((self._request_id, repr(error)))


def _read_frames(reader: IO[bytes]) -> Iterator[Any]:
    while True:
        header = reader.read(_LENGTH_BYTES)
        if len(header) < _LENGTH_BYTES:
            return
        size = int.from_bytes(header, "big")
        payload = reader.read(size)
        if len(payload) < size:
            return
        yield marshal.loads(payload)  # noqa: S302 - our own parent


def run_child(channel: socket.socket) -> None:
    """The child's whole life: configure, connect, then send what the parent hands over until it goes."""
    reader = channel.makefile("rb")
    frames = _read_frames(reader)
    config = next(frames, None)
    if config is None:
        return
    configure_logging(config["log_level"])
    writer = _AnswerWriter(channel)
    try:
        producer = make_producer(KafkaSettings.model_validate(config["settings"]), **config["overrides"])
        producer.partitions_for(config["topic"])
    except (KafkaError, OSError) as error:
        writer.send((_HELLO_ID, f"cannot reach the broker: {error!r}"))
        return
    writer.send((_HELLO_ID, None))
    try:
        with startup_heap_frozen():
            for request_id, records in frames:
                acknowledgements = _RequestAcknowledgements(writer, request_id, len(records))
                try:
                    for topic, key, value, headers in records:
                        future = producer.send(topic, key=key, value=value, headers=headers)
                        future.add_callback(acknowledgements.acknowledged)
                        future.add_errback(acknowledgements.failed)
                except KafkaError as error:
                    acknowledgements.failed(error)
    finally:
        producer.close(timeout=CHILD_CLOSE_TIMEOUT_S)


def main() -> None:
    # The parent decides when the child goes (end-of-file on the socket), so that requests still in
    # flight while the service drains on SIGTERM keep their producer.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    channel = socket.socket(fileno=int(sys.argv[1]))
    try:
        run_child(channel)
    finally:
        channel.close()


if __name__ == "__main__":
    main()
