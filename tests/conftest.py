"""Fixtures that start real servers (Tansu broker, Redis) on loopback, once, only when asked for."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from cxpulse_cli.localstack import ManagedProcess, start_broker, start_redis
from cxpulse_contracts.topics import ALL_TOPICS
from cxpulse_shared.kafka import ensure_topics
from cxpulse_shared.settings import KafkaSettings, RedisSettings

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def servers_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="session")
def broker(servers_dir: Path) -> Iterator[ManagedProcess]:
    process = start_broker(servers_dir / "logs")
    ensure_topics(KafkaSettings(bootstrap_servers=process.address), ALL_TOPICS)
    yield process
    process.stop()


@pytest.fixture(scope="session")
def redis_server(servers_dir: Path) -> Iterator[ManagedProcess]:
    process = start_redis(servers_dir / "redis", servers_dir / "logs")
    yield process
    process.stop()


@pytest.fixture
def kafka_settings(broker: ManagedProcess) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=broker.address)


@pytest.fixture
def redis_settings(redis_server: ManagedProcess) -> RedisSettings:
    return RedisSettings(url=redis_server.address)  # type: ignore[arg-type]


@pytest.fixture
def webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"evaluation data not present at {SHARED_DATA} (only beside the project checkout)")
    return SHARED_DATA
