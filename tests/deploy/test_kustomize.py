"""The Kubernetes manifests: every overlay renders, validates, and keeps the hardening and the
shape the architecture asks for (topics, KRaft, replication, autoscaling, exposure, secrets)."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from cxpulse_contracts.topics import ALL_TOPICS
from tests.deploy.support import (
    K8S,
    OVERLAYS,
    PARTITIONS,
    WORKLOAD_KINDS,
    Manifest,
    containers,
    dashboard_files,
    load_yaml,
    named,
    of_kind,
    pod_spec,
    rule_groups,
)

# The oldest Kubernetes the manifests target (the preStop `sleep` action is on by default from
# 1.30) and the newest whose schemas kubernetes-validate ships.
OLDEST_KUBERNETES = "1.30"
SERVICES = ("collector", "scorer", "alerts")


def _is_core(manifest: Manifest) -> bool:
    """Built-in API groups: the core group, `apps`, `policy`, and `*.k8s.io`."""
    api_version: str = manifest["apiVersion"]
    group = api_version.rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


def _kubernetes_validate() -> Any:
    return pytest.importorskip(
        "kubernetes_validate.utils",
        reason="kubernetes-validate is not installed (PyPI: kubernetes-validate); it carries the schemas",
    )


def _schema_versions() -> list[str]:
    module = _kubernetes_validate()
    latest: str = module.latest_version()
    return [OLDEST_KUBERNETES, ".".join(latest.split(".")[:2])]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_with_the_core_objects_of_every_service(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    manifests = rendered[overlay]
    for service in SERVICES:
        assert named(manifests, "ServiceAccount", service)["automountServiceAccountToken"] is False
        assert named(manifests, "Service", service)["spec"]["type"] == "ClusterIP"
        assert named(manifests, "PodDisruptionBudget", service)
    assert named(manifests, "Deployment", "collector")
    assert named(manifests, "StatefulSet", "scorer")
    assert named(manifests, "Deployment", "alerts")
    assert named(manifests, "StatefulSet", "redis")
    namespaces = {m["metadata"].get("namespace") for m in manifests if m["kind"] != "Namespace"}
    assert len(namespaces) == 1, f"objects spread over namespaces {namespaces}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_core_objects_validate_against_the_kubernetes_schemas(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    module = _kubernetes_validate()
    core = [m for m in rendered[overlay] if _is_core(m)]
    assert len(core) > 20
    errors = []
    for version in _schema_versions():
        for manifest in core:
            try:
                module.validate(manifest, version, True)
            except module.ValidationError as error:
                path = ".".join(str(part) for part in error.path)
                errors.append(f"{version} {manifest['kind']}/{manifest['metadata']['name']}: {path}: {error.message}")
    assert not errors, "\n".join(errors)


def _require(manifest: Manifest, *paths: str) -> list[str]:
    missing = []
    for path in paths:
        node: Any = manifest
        for part in path.split("."):
            if not isinstance(node, dict) or node.get(part) in (None, "", [], {}):
                missing.append(f"{manifest['kind']}/{manifest['metadata']['name']}: {path}")
                break
            node = node[part]
    return missing


# The fields each operator needs before it does anything (from their CRDs' `required` lists and
# what the operators refuse without), checked here because no offline schema covers them.
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "Kafka": ("spec.kafka.listeners", "spec.kafka.version", "spec.kafka.config", "spec.entityOperator.topicOperator"),
    "KafkaNodePool": ("metadata.labels.strimzi.io/cluster", "spec.replicas", "spec.roles", "spec.storage.type"),
    "KafkaTopic": ("metadata.labels.strimzi.io/cluster", "spec.partitions", "spec.replicas", "spec.config"),
    "ScaledObject": ("spec.scaleTargetRef.name", "spec.triggers", "spec.maxReplicaCount"),
    "ServiceMonitor": ("spec.selector.matchLabels", "spec.endpoints"),
    "PrometheusRule": ("spec.groups",),
    "ExternalSecret": ("spec.secretStoreRef.name", "spec.secretStoreRef.kind", "spec.target.name"),
}
CUSTOM_API_VERSIONS = {
    "Kafka": "kafka.strimzi.io/v1",
    "KafkaNodePool": "kafka.strimzi.io/v1",
    "KafkaTopic": "kafka.strimzi.io/v1",
    "ScaledObject": "keda.sh/v1alpha1",
    "ServiceMonitor": "monitoring.coreos.com/v1",
    "PrometheusRule": "monitoring.coreos.com/v1",
    "ExternalSecret": "external-secrets.io/v1",
}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_custom_resources_have_their_required_fields(rendered: dict[str, list[Manifest]], overlay: str) -> None:
    custom = [m for m in rendered[overlay] if not _is_core(m)]
    unknown = {f"{m['apiVersion']} {m['kind']}" for m in custom if m["kind"] not in REQUIRED_FIELDS}
    assert not unknown, f"custom resources nobody checks: {unknown}"
    problems = []
    for manifest in custom:
        # Label keys contain dots, so read them directly rather than by path.
        labels = manifest["metadata"].get("labels", {})
        fields = [path for path in REQUIRED_FIELDS[manifest["kind"]] if not path.startswith("metadata.labels.")]
        problems += _require(manifest, *fields)
        problems += [
            f"{manifest['kind']}/{manifest['metadata']['name']}: label {path.removeprefix('metadata.labels.')}"
            for path in REQUIRED_FIELDS[manifest["kind"]]
            if path.startswith("metadata.labels.") and labels.get(path.removeprefix("metadata.labels.")) != "cxpulse"
        ]
        if manifest["apiVersion"] != CUSTOM_API_VERSIONS[manifest["kind"]]:
            problems.append(f"{manifest['kind']} uses {manifest['apiVersion']}")
    for external in of_kind(custom, "ExternalSecret"):
        spec = external["spec"]
        assert spec.get("data") or spec.get("dataFrom"), f"ExternalSecret {external['metadata']['name']} syncs nothing"
        for item in spec.get("data", []):
            problems += _require({"kind": "ExternalSecret", "metadata": external["metadata"], **item}, "secretKey")
            assert item["remoteRef"]["key"], item
        for item in spec.get("dataFrom", []):
            assert item["extract"]["key"], item
    for monitor in of_kind(custom, "ServiceMonitor"):
        for endpoint in monitor["spec"]["endpoints"]:
            assert endpoint["port"] == "http", monitor
            assert endpoint["path"] == "/metrics", monitor
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_runs_with_the_hardened_baseline(rendered: dict[str, list[Manifest]], overlay: str) -> None:
    workloads = of_kind(rendered[overlay], *WORKLOAD_KINDS)
    assert len(workloads) >= 4
    problems = []
    for workload in workloads:
        where = f"{workload['kind']}/{workload['metadata']['name']}"
        spec = pod_spec(workload)
        pod = spec.get("securityContext", {})
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{where}: the pod mounts a service account token")
        if spec.get("serviceAccountName") in (None, "default"):
            problems.append(f"{where}: runs as the default service account")
        if spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"):
            problems.append(f"{where}: shares a host namespace")
        if not any(
            volume.get("emptyDir") is not None
            and any(
                mount["name"] == volume["name"] and mount["mountPath"] == "/tmp"
                for container in containers(workload)
                for mount in container.get("volumeMounts", [])
            )
            for volume in spec.get("volumes", [])
        ):
            problems.append(f"{where}: no emptyDir for /tmp")
        for container in containers(workload):
            name = f"{where}/{container['name']}"
            context = container.get("securityContext", {})

            def setting(key: str, container_context: Manifest = context, pod_context: Manifest = pod) -> Any:
                """A container's security setting, else the pod's, as Kubernetes resolves it."""
                return container_context.get(key, pod_context.get(key))

            if setting("runAsNonRoot") is not True:
                problems.append(f"{name}: runAsNonRoot is not true")
            user = setting("runAsUser")
            if not isinstance(user, int) or user == 0:
                problems.append(f"{name}: runAsUser {user!r} is not a numeric non-root user")
            if context.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{name}: root filesystem is writable")
            if context.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{name}: privilege escalation allowed")
            if context.get("privileged"):
                problems.append(f"{name}: privileged")
            if context.get("capabilities", {}).get("drop") != ["ALL"] or context["capabilities"].get("add"):
                problems.append(f"{name}: capabilities are not exactly `drop: [ALL]`")
            if (setting("seccompProfile") or {}).get("type") != "RuntimeDefault":
                problems.append(f"{name}: seccompProfile is not RuntimeDefault")
            resources = container.get("resources", {})
            for kind in ("requests", "limits"):
                if not {"cpu", "memory"} <= resources.get(kind, {}).keys():
                    problems.append(f"{name}: no cpu and memory {kind}")
            for probe in ("livenessProbe", "readinessProbe"):
                if probe not in container:
                    problems.append(f"{name}: no {probe}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_services_probe_healthz_and_readyz_on_their_port(
    rendered: dict[str, list[Manifest]], overlay: str, service: str
) -> None:
    kind = "StatefulSet" if service == "scorer" else "Deployment"
    (container,) = containers(named(rendered[overlay], kind, service))
    assert container["ports"] == [{"name": "http", "containerPort": 8080}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    image = container["image"]
    assert re.fullmatch(rf"[\w./-]+/{service}:\d+\.\d+\.\d+", image), f"{image} is not pinned to a version"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_scorer_transactional_id_comes_from_its_stable_pod_name(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    scorer = named(rendered[overlay], "StatefulSet", "scorer")
    (container,) = containers(scorer)
    env = {item["name"]: item for item in container["env"]}
    assert env["SCORER_INSTANCE_ID"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_image_is_pinned(rendered: dict[str, list[Manifest]], overlay: str) -> None:
    for workload in of_kind(rendered[overlay], *WORKLOAD_KINDS):
        for container in containers(workload):
            image: str = container["image"]
            tag = image.rpartition(":")[2] if "@" not in image else "digest"
            assert "/" not in tag, f"{image} has no tag"
            assert tag not in ("latest", ""), f"{image} is not pinned"
            assert re.search(r"\d", tag) or tag == "digest", f"{image} is not pinned to a version"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_collector_is_reachable_from_outside(rendered: dict[str, list[Manifest]], overlay: str) -> None:
    manifests = rendered[overlay]
    for service in of_kind(manifests, "Service"):
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", service["metadata"]["name"]
        for port in service["spec"]["ports"]:
            assert "nodePort" not in port
    ingresses = of_kind(manifests, "Ingress")
    backends = {
        path["backend"]["service"]["name"]
        for ingress in ingresses
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert backends <= {"collector"}
    assert not of_kind(manifests, "Gateway", "HTTPRoute", "GRPCRoute", "TCPRoute")
    if overlay == "prod":
        (ingress,) = ingresses
        hosts = {host for rule in ingress["spec"]["rules"] for host in [rule["host"]]}
        assert hosts <= {host for tls in ingress["spec"]["tls"] for host in tls["hosts"]}, "a host without TLS"
        paths = {path["path"] for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]}
        assert paths == {"/v1/surveys", "/v1/mentions", "/v1/webhooks/"}, "only webhook routes are public"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kafka_runs_in_kraft_mode_with_the_four_topics(rendered: dict[str, list[Manifest]], overlay: str) -> None:
    manifests = rendered[overlay]
    (kafka,) = of_kind(manifests, "Kafka")
    pools = of_kind(manifests, "KafkaNodePool")
    roles = {role for pool in pools for role in pool["spec"]["roles"]}
    assert roles == {"controller", "broker"}
    assert "zookeeper" not in kafka["spec"]
    listeners = {listener["port"]: listener for listener in kafka["spec"]["kafka"]["listeners"]}
    assert listeners[9092]["type"] == "internal"
    topics = {topic["metadata"]["name"]: topic["spec"] for topic in of_kind(manifests, "KafkaTopic")}
    assert set(topics) == set(ALL_TOPICS)
    for name, spec in topics.items():
        assert spec["partitions"] == PARTITIONS, name
        assert spec["config"]["retention.ms"] >= 7 * 24 * 3600 * 1000, name
    config = kafka["spec"]["kafka"]["config"]
    assert config["auto.create.topics.enable"] is False
    if overlay == "prod":
        assert sum(pool["spec"]["replicas"] for pool in pools if "controller" in pool["spec"]["roles"]) == 3
        assert sum(pool["spec"]["replicas"] for pool in pools if "broker" in pool["spec"]["roles"]) >= 3
        assert config["default.replication.factor"] == 3
        assert config["min.insync.replicas"] == 2
        assert config["transaction.state.log.replication.factor"] == 3
        assert config["transaction.state.log.min.isr"] == 2
        for name, spec in topics.items():
            assert spec["replicas"] == 3, name
            assert spec["config"]["min.insync.replicas"] == 2, name


def test_retention_is_long_enough_to_rebuild_a_month_by_replay(rendered: dict[str, list[Manifest]]) -> None:
    topics = {topic["metadata"]["name"]: topic["spec"] for topic in of_kind(rendered["prod"], "KafkaTopic")}
    month_ms = 31 * 24 * 3600 * 1000
    assert topics["cx.feedback.v1"]["config"]["retention.ms"] > month_ms
    assert topics["cx.feedback.scored.v1"]["config"]["retention.ms"] > month_ms


def test_redis_persists_every_write_and_never_evicts(rendered: dict[str, list[Manifest]]) -> None:
    manifests = rendered["prod"]
    redis = named(manifests, "StatefulSet", "redis")
    (container,) = containers(redis)
    (claim,) = redis["spec"]["volumeClaimTemplates"]
    assert {"name": claim["metadata"]["name"], "mountPath": "/data"} in container["volumeMounts"]
    config_volume = next(v for v in pod_spec(redis)["volumes"] if v["name"] == "config")
    config_map = named(manifests, "ConfigMap", config_volume["configMap"]["name"])
    settings = dict(
        line.split(None, 1) for line in config_map["data"]["redis.conf"].splitlines() if line and line[0] != "#"
    )
    assert settings["appendonly"] == "yes"
    assert settings["maxmemory-policy"] == "noeviction"
    assert settings["dir"] == "/data"
    assert "--requirepass" in container["args"]


def test_consumers_autoscale_on_lag_up_to_the_partition_count(rendered: dict[str, list[Manifest]]) -> None:
    manifests = rendered["prod"]
    expected = {"scorer": ("cx-scorer", "cx.feedback.v1"), "alerts": ("cx-alerts", "cx.feedback.scored.v1")}
    scaled = {obj["spec"]["scaleTargetRef"]["name"]: obj for obj in of_kind(manifests, "ScaledObject")}
    assert set(scaled) == set(expected)
    bootstrap = f"{named(manifests, 'Kafka', 'cxpulse')['metadata']['name']}-kafka-bootstrap:9092"
    for target, (group, topic) in expected.items():
        spec = scaled[target]["spec"]
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= PARTITIONS
        (trigger,) = spec["triggers"]
        assert trigger["type"] == "kafka"
        assert trigger["metadata"]["consumerGroup"] == group
        assert trigger["metadata"]["topic"] == topic
        assert trigger["metadata"]["bootstrapServers"] == bootstrap
        assert trigger["metadata"]["allowIdleConsumers"] == "false"
        workload = named(manifests, spec["scaleTargetRef"]["kind"], target)
        assert "replicas" not in workload["spec"], f"{target}: a fixed replica count fights the autoscaler"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_references_to_config_maps_and_secrets_resolve(rendered: dict[str, list[Manifest]], overlay: str) -> None:
    manifests = rendered[overlay]
    config_maps = {m["metadata"]["name"] for m in of_kind(manifests, "ConfigMap")}
    secrets = {m["metadata"]["name"] for m in of_kind(manifests, "Secret")}
    secrets |= {m["spec"]["target"]["name"] for m in of_kind(manifests, "ExternalSecret")}
    missing = []
    for workload in of_kind(manifests, *WORKLOAD_KINDS):
        spec = pod_spec(workload)
        for volume in spec.get("volumes", []):
            if "configMap" in volume and volume["configMap"]["name"] not in config_maps:
                missing.append(f"ConfigMap {volume['configMap']['name']}")
        for container in containers(workload):
            for source in container.get("envFrom", []):
                if "configMapRef" in source and source["configMapRef"]["name"] not in config_maps:
                    missing.append(f"ConfigMap {source['configMapRef']['name']}")
                if "secretRef" in source and source["secretRef"]["name"] not in secrets:
                    missing.append(f"Secret {source['secretRef']['name']}")
            for item in container.get("env", []):
                reference = item.get("valueFrom", {}).get("secretKeyRef")
                if reference and reference["name"] not in secrets:
                    missing.append(f"Secret {reference['name']}")
    assert not missing, missing


def test_production_secrets_come_only_from_the_external_store(rendered: dict[str, list[Manifest]]) -> None:
    manifests = rendered["prod"]
    assert not of_kind(manifests, "Secret"), "production must not carry Secret objects"
    for external in of_kind(manifests, "ExternalSecret"):
        assert external["spec"]["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "cxpulse"}
        assert "template" not in external["spec"]["target"], "templates can hide literal values"
    overlay = load_yaml(K8S / "overlays" / "prod" / "kustomization.yaml")
    assert "secretGenerator" not in overlay


def test_dev_secrets_come_from_gitignored_env_files_with_committed_examples() -> None:
    overlay_dir = K8S / "overlays" / "dev"
    generators = load_yaml(overlay_dir / "kustomization.yaml")["secretGenerator"]
    env_files = [overlay_dir / env for generator in generators for env in generator["envs"]]
    assert {generator["name"] for generator in generators} == {"collector", "cxpulse-api", "alerts", "redis"}
    for env_file in env_files:
        example = env_file.with_name(env_file.name + ".example")
        assert example.is_file(), f"{example} is missing"
        for line in example.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.partition("=")
                assert value in ("", "{}"), f"{example}: {key} carries a value; examples hold none"
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed: cannot ask which files are ignored")
    relative = [str(path.relative_to(K8S.parents[1])) for path in env_files]
    result = subprocess.run(
        [git, "check-ignore", "--no-index", *relative], cwd=K8S.parents[1], capture_output=True, text=True, check=False
    )
    assert sorted(result.stdout.split()) == sorted(relative), "every secret env file must be gitignored"


def test_network_policies_deny_by_default_and_allow_the_real_flows(rendered: dict[str, list[Manifest]]) -> None:
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(rendered["prod"], "NetworkPolicy")}
    deny = policies["default-deny"]
    assert deny["podSelector"] == {}
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny
    assert "egress" not in deny

    def ports(rules: list[Manifest]) -> set[int]:
        return {port["port"] for rule in rules for port in rule.get("ports", [])}

    assert ports(policies["allow-dns"]["egress"]) == {53}
    assert {9092, 6379} <= ports(policies["services"]["egress"])
    assert ports(policies["services"]["ingress"]) == {8080}
    assert ports(policies["collector-from-ingress"]["ingress"]) == {8080}
    assert 443 in ports(policies["alerts-to-receivers"]["egress"])
    assert ports(policies["redis"]["ingress"]) == {6379}
    assert "egress" not in policies["redis"], "Redis starts no connection"
    for name, spec in policies.items():
        for rule in spec.get("ingress", []):
            assert rule.get("from"), f"{name} admits traffic from anywhere"


def test_prometheus_rule_is_the_rule_file(rendered: dict[str, list[Manifest]]) -> None:
    (rule,) = of_kind(rendered["prod"], "PrometheusRule")
    assert rule["spec"]["groups"] == rule_groups()


def test_dashboards_are_provisioned_as_config_maps_from_the_files(rendered: dict[str, list[Manifest]]) -> None:
    dashboards = {
        key: value
        for config_map in of_kind(rendered["prod"], "ConfigMap")
        if config_map["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
        for key, value in config_map["data"].items()
    }
    files = {path.name: path.read_text(encoding="utf-8") for path in dashboard_files()}
    assert dashboards == files


def _env_references(text: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)(?::-[^}]*)?\}", text))


@pytest.mark.parametrize("overlay", ["base", *OVERLAYS])
def test_channels_files_load_with_the_collector_loader(overlay: str) -> None:
    config = pytest.importorskip("cxpulse_collector.config")
    path = K8S / ("base/config" if overlay == "base" else f"overlays/{overlay}") / "channels.yaml"
    environ = {name: f"test-{name.lower()}-value" for name in _env_references(path.read_text(encoding="utf-8"))}
    channels = config.load_channels(path, environ)
    assert overlay == "base" or channels


@pytest.mark.parametrize("overlay", ["base", *OVERLAYS])
def test_ownership_files_load_with_the_alerts_loader(overlay: str) -> None:
    ownership = pytest.importorskip("cxpulse_alerts.domain.ownership")
    path = K8S / ("base/config" if overlay == "base" else f"overlays/{overlay}") / "ownership.yaml"
    names = _env_references(path.read_text(encoding="utf-8"))
    environ = {name: f"https://hooks.example.test/{name.lower()}" for name in names}
    ownership.load_ownership(path, environ)
    receivers = load_yaml(path)["receivers"]
    for receiver in receivers:
        if receiver["type"] == "log":
            assert receiver["path"].startswith("/tmp/"), "a log receiver must write to the writable /tmp"


def test_dev_examples_name_every_secret_the_dev_files_reference() -> None:
    overlay_dir = K8S / "overlays" / "dev"
    referenced = _env_references((overlay_dir / "channels.yaml").read_text(encoding="utf-8"))
    referenced |= _env_references((overlay_dir / "ownership.yaml").read_text(encoding="utf-8"))
    provided = {
        line.partition("=")[0]
        for example in (overlay_dir / "secrets").glob("*.example")
        for line in example.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }
    assert referenced <= provided


def test_generated_manifests_are_not_committed() -> None:
    """Sources name no namespace (the overlays set it), so a committed render stands out by one."""
    for path in K8S.rglob("*.yaml"):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(document, dict) and document.get("kind") != "Namespace":
                metadata = document.get("metadata", {})
                assert "namespace" not in metadata, f"{path} looks like rendered output"
