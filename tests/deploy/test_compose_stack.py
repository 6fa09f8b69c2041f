"""deploy/compose.yaml, read as YAML because no Docker engine is at hand: every service and port,
Kafka in KRaft mode with the four topics, Redis with AOF and noeviction, Prometheus with the
rules, Grafana with the dashboards, and the services built from the one Dockerfile."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from cxpulse_contracts.topics import ALL_TOPICS
from tests.deploy.support import DASHBOARDS, DEPLOY, PARTITIONS, RULE_FILE, load_yaml

COMPOSE: dict[str, Any] = load_yaml(DEPLOY / "compose.yaml")
SERVICES: dict[str, Any] = COMPOSE["services"]
APPLICATIONS = {"collector": 8080, "scorer": 8081, "alerts": 8082}


def _environment(service: str) -> dict[str, str]:
    environment = SERVICES[service].get("environment", {})
    assert isinstance(environment, dict), f"{service}: use the mapping form of environment"
    return {key: str(value) for key, value in environment.items()}


def _bind_mounts(service: str) -> dict[str, str]:
    mounts = {}
    for volume in SERVICES[service].get("volumes", []):
        source, target, *_ = volume.split(":")
        if source.startswith("."):
            mounts[target] = source
    return mounts


def test_every_part_of_the_stack_is_there() -> None:
    assert {"kafka", "kafka-init", "redis", "prometheus", "grafana", *APPLICATIONS} <= SERVICES.keys()


def test_published_ports_listen_on_loopback_only() -> None:
    expected = {**APPLICATIONS, "prometheus": 9090, "grafana": 3000}
    for service, port in expected.items():
        assert any(str(mapping).startswith(f"127.0.0.1:{port}:") for mapping in SERVICES[service]["ports"]), service
    for name, service in SERVICES.items():
        for mapping in service.get("ports", []):
            assert str(mapping).startswith("127.0.0.1:"), f"{name} publishes {mapping} beyond loopback"


def test_third_party_images_are_pinned_to_versions() -> None:
    for name, service in SERVICES.items():
        if "build" in service:
            continue
        image: str = service["image"]
        assert re.fullmatch(r"[\w./-]+:v?\d+\.\d+\.\d+[\w.-]*", image), f"{name}: {image} is not pinned"


def test_kafka_runs_in_kraft_mode_without_zookeeper() -> None:
    kafka = SERVICES["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    environment = _environment("kafka")
    assert set(environment["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    node = environment["KAFKA_NODE_ID"]
    assert environment["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{node}@kafka:")
    assert "CONTROLLER" in environment["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert not any("ZOOKEEPER" in key for key in environment)
    assert environment["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert environment["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    assert len(base64.urlsafe_b64decode(environment["CLUSTER_ID"] + "==")) == 16, "CLUSTER_ID must be a base64 UUID"
    assert "kafka-data:" + environment["KAFKA_LOG_DIRS"] in kafka["volumes"]


def test_the_four_topics_are_created_with_twelve_partitions() -> None:
    script = "\n".join(SERVICES["kafka-init"]["command"])
    assert set(re.search(r"for topic in ([^;]+);", script).group(1).split()) == set(ALL_TOPICS)  # type: ignore[union-attr]
    assert f"--partitions {PARTITIONS}" in script
    for application in APPLICATIONS:
        assert SERVICES[application]["depends_on"]["kafka-init"] == {"condition": "service_completed_successfully"}


def test_redis_keeps_an_append_only_file_and_never_evicts() -> None:
    mounts = _bind_mounts("redis")
    config_path = (DEPLOY / mounts["/etc/redis/redis.conf"]).resolve()
    assert config_path == (DEPLOY / "k8s" / "redis" / "redis.conf").resolve(), "one redis.conf for both"
    settings = dict(
        line.split(None, 1) for line in config_path.read_text(encoding="utf-8").splitlines() if line and line[0] != "#"
    )
    assert settings["appendonly"] == "yes"
    assert settings["maxmemory-policy"] == "noeviction"
    assert SERVICES["redis"]["command"][:2] == ["redis-server", "/etc/redis/redis.conf"]
    assert any(volume.startswith("redis-data:/data") for volume in SERVICES["redis"]["volumes"])


def test_prometheus_scrapes_the_three_services_and_loads_the_rules() -> None:
    mounts = _bind_mounts("prometheus")
    config_path = DEPLOY / mounts["/etc/prometheus/prometheus.yml"]
    assert (DEPLOY / mounts["/etc/prometheus/rules"]).resolve() == RULE_FILE.parent.resolve()
    config = load_yaml(config_path)
    jobs = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
    assert jobs == {service: [f"{service}:8080"] for service in APPLICATIONS}
    (pattern,) = config["rule_files"]
    assert sorted(config_path.parent.glob(pattern)) == [RULE_FILE], "the same relative path works in the container"


def test_grafana_is_provisioned_from_the_generated_dashboards() -> None:
    mounts = _bind_mounts("grafana")
    sources = {target: (DEPLOY / source).resolve() for target, source in mounts.items()}
    assert DASHBOARDS.resolve() in sources.values()
    assert sources["/etc/grafana/provisioning"] == (DEPLOY / "grafana" / "provisioning").resolve()


@pytest.mark.parametrize("service", APPLICATIONS)
def test_services_build_their_target_and_run_hardened(service: str) -> None:
    definition = SERVICES[service]
    build = definition["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == (DEPLOY / "docker" / "Dockerfile").resolve()
    assert build["target"] == service
    uid = definition["user"].split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0
    assert definition["read_only"] is True
    assert definition["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in definition["security_opt"]
    assert "/tmp" in definition["tmpfs"]
    environment = _environment(service)
    assert environment["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert environment["REDIS_URL"].endswith("@redis:6379/0")


def test_secrets_come_from_the_env_file_and_have_no_defaults() -> None:
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    references = re.findall(r"\$\{(\w+)(:?[?-])?([^}]*)\}", text)
    assert references
    for name, operator, _ in references:
        assert operator == ":?", f"${{{name}}} must be required (:?), never defaulted"
    example = (DEPLOY / ".env.example").read_text(encoding="utf-8").splitlines()
    keys = {line.partition("=")[0] for line in example if line and not line.startswith("#")}
    values = {line.partition("=")[2] for line in example if line and not line.startswith("#")}
    assert {name for name, _, _ in references} == keys
    assert values == {""}, "the example holds no values"


def test_every_bind_mount_source_exists() -> None:
    for name in SERVICES:
        for target, source in _bind_mounts(name).items():
            assert (DEPLOY / source).exists(), f"{name}: {source} (for {target}) does not exist"
