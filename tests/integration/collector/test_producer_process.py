"""The collector's producer child process against the real broker: what it acknowledges is on the
topic; its death fails the requests waiting on it and the next publish starts a new child; the
death of its parent makes it exit."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import psutil
import pytest

from cxpulse_cli.localstack import ManagedProcess, free_port
from cxpulse_contracts import topics
from cxpulse_shared.kafka import OutgoingRecord, PublishFailed
from cxpulse_shared.producer_process import ProcessPublisher, ProducerProcessFailed
from cxpulse_shared.settings import KafkaSettings
from tests.support.kafka_reader import end_offsets, read_topic

pytestmark = pytest.mark.integration


def records(count: int, *, marker: str) -> list[OutgoingRecord]:
    return [
        OutgoingRecord(
            topic=topics.FEEDBACK,
            key=b"producer-process-test",
            value=f'{{"marker": "{marker}", "n": {n}}}'.encode(),
            headers=[("ce_id", f"{marker}-{n}".encode()), ("ce_specversion", b"1.0")],
        )
        for n in range(count)
    ]


def marked(found: list[object], marker: str) -> list[object]:
    return [record for record in found if marker.encode() in record.value]  # type: ignore[attr-defined]


def child_pids(parent_pid: int) -> list[int]:
    return [
        child.pid for child in psutil.Process(parent_pid).children() if "producer_process" in " ".join(child.cmdline())
    ]


def wait_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.05)
    return False


def test_acknowledged_records_are_on_the_topic_with_their_headers(
    kafka_settings: KafkaSettings, broker: ManagedProcess
) -> None:
    marker = uuid.uuid4().hex
    since = end_offsets(broker.address, topics.FEEDBACK)

    async def scenario() -> None:
        publisher = ProcessPublisher(kafka_settings, topic=topics.FEEDBACK, timeout_s=10.0)
        await publisher.start()
        try:
            await asyncio.gather(
                publisher.publish(records(150, marker=marker)), publisher.publish(records(1, marker=marker + "-single"))
            )
            assert await publisher.broker_reachable()
        finally:
            await publisher.close()

    asyncio.run(scenario())
    found = read_topic(broker.address, topics.FEEDBACK, since=since, until=lambda got: len(marked(got, marker)) >= 151)
    assert len(marked(found, marker)) == 151
    headers = dict(marked(found, marker + "-single")[0].headers)  # type: ignore[attr-defined]
    assert headers == {"ce_id": f"{marker}-single-0".encode(), "ce_specversion": b"1.0"}


def test_a_dead_child_fails_its_waiting_requests_and_the_next_publish_starts_another(
    kafka_settings: KafkaSettings, broker: ManagedProcess
) -> None:
    marker = uuid.uuid4().hex
    since = end_offsets(broker.address, topics.FEEDBACK)

    async def scenario() -> tuple[int, int]:
        publisher = ProcessPublisher(kafka_settings, topic=topics.FEEDBACK, timeout_s=10.0)
        await publisher.start()
        try:
            [first_child] = child_pids(os.getpid())
            os.kill(first_child, signal.SIGSTOP)
            waiting = asyncio.ensure_future(publisher.publish(records(1, marker=marker + "-lost")))
            await asyncio.sleep(0.2)
            os.kill(first_child, signal.SIGKILL)
            with pytest.raises(PublishFailed):
                await waiting
            await publisher.publish(records(3, marker=marker))
            [second_child] = child_pids(os.getpid())
            return first_child, second_child
        finally:
            await publisher.close()

    first_child, second_child = asyncio.run(scenario())
    assert first_child != second_child
    found = read_topic(broker.address, topics.FEEDBACK, since=since, until=lambda got: len(marked(got, marker)) >= 3)
    assert len(marked(found, marker)) == 3
    assert not marked(found, marker + "-lost")
    assert wait_gone(second_child, timeout_s=10)


def test_an_unreachable_broker_fails_the_start_in_time() -> None:
    unreachable = KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}")

    async def scenario() -> None:
        publisher = ProcessPublisher(unreachable, topic=topics.FEEDBACK, timeout_s=1.0, start_timeout_s=3.0)
        with pytest.raises(ProducerProcessFailed):
            await publisher.start()
        assert not await publisher.broker_reachable()

    asyncio.run(scenario())
    assert child_pids(os.getpid()) == []


def test_the_child_exits_when_its_parent_is_killed(kafka_settings: KafkaSettings) -> None:
    parent_program = textwrap.dedent(
        f"""
        import asyncio, sys
        from cxpulse_shared.producer_process import ProcessPublisher
        from cxpulse_shared.settings import KafkaSettings

        async def main():
            publisher = ProcessPublisher(
                KafkaSettings(bootstrap_servers={kafka_settings.bootstrap_servers!r}),
                topic={topics.FEEDBACK!r},
                timeout_s=5.0,
            )
            await publisher.start()
            print("ready", flush=True)
            await asyncio.sleep(600)

        asyncio.run(main())
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_program], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == "ready"
        [child] = child_pids(parent.pid)
        parent.kill()
        parent.wait()
        assert wait_gone(child, timeout_s=15)
    finally:
        parent.kill()
        parent.wait()
