"""The Dockerfile, read as text because no Docker engine is at hand: multi-stage, pinned bases,
dependencies from uv.lock, and final stages that hold only the venv, the code and config, run as
a numeric non-root user."""

from __future__ import annotations

import ipaddress
import re
import shlex
import tomllib
from dataclasses import dataclass, field

import pytest
from packaging.specifiers import SpecifierSet

from tests.deploy.support import DEPLOY, REPO

DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
TARGETS = ("collector", "scorer", "alerts")


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


def _logical_lines(text: str) -> list[str]:
    """Joins continuation lines and drops comments (a `\\` at the end continues a line)."""
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    return lines


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages, in order."""
    arguments: dict[str, str] = {}
    stages: list[Stage] = []
    for line in _logical_lines(text):
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            words = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: arguments[m.group(1)], words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(base, name))
        elif instruction == "ARG" and not stages:
            key, _, default = rest.partition("=")
            arguments[key] = default
        elif stages:
            stages[-1].instructions.append((instruction, rest))
    return arguments, stages


ARGUMENTS, STAGES = parse(DOCKERFILE.read_text(encoding="utf-8"))
BY_NAME = {stage.name: stage for stage in STAGES}


def _lineage(stage: Stage) -> list[Stage]:
    """The stage and the stages it is built FROM, nearest first."""
    chain = [stage]
    while chain[-1].base in BY_NAME:
        chain.append(BY_NAME[chain[-1].base])
    return chain


def _effective(stage: Stage, instruction: str) -> str | None:
    for ancestor in _lineage(stage):
        values = [rest for name, rest in ancestor.instructions if name == instruction]
        if values:
            return values[-1]
    return None


def test_is_multi_stage_with_a_target_per_service() -> None:
    assert len(STAGES) >= 3
    assert set(TARGETS) <= BY_NAME.keys()
    assert "builder" in BY_NAME


def test_external_bases_are_pinned_python_311_slim() -> None:
    external = {stage.base for stage in STAGES if stage.base not in BY_NAME}
    assert external
    for base in external:
        image, _, tag = base.partition(":")
        assert image == "python", base
        assert re.fullmatch(r"3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", tag), f"{base} is not pinned"
    assert DOCKERFILE.read_text(encoding="utf-8").startswith("# syntax=docker/dockerfile:1.")


def test_the_builder_installs_exactly_the_lock_file_without_dev_tools() -> None:
    builder = BY_NAME["builder"]
    runs = [rest for name, rest in builder.instructions if name == "RUN"]
    copies = " ".join(rest for name, rest in builder.instructions if name == "COPY")
    assert "uv.lock" in copies
    assert "pyproject.toml" in copies
    syncs = [run for run in runs if "uv sync" in run]
    assert syncs
    assert all("--frozen" in run and "--no-dev" in run for run in syncs)
    makefile_uv = re.search(r"UV_VERSION := (\S+)", (REPO / "Makefile").read_text(encoding="utf-8"))
    assert makefile_uv
    assert f"UV_VERSION={makefile_uv.group(1)}" in [rest for name, rest in builder.instructions if name == "ARG"]


@pytest.mark.parametrize("target", TARGETS)
def test_final_stages_run_as_a_numeric_non_root_user(target: str) -> None:
    user = _effective(BY_NAME[target], "USER")
    assert user is not None, f"{target} runs as root"
    uid, _, gid = user.partition(":")
    assert uid.isdigit(), user
    assert int(uid) != 0, user
    assert not gid or int(gid) != 0, user


@pytest.mark.parametrize("target", TARGETS)
def test_final_stages_run_their_service_factory_on_port_8080(target: str) -> None:
    command = _effective(BY_NAME[target], "CMD")
    assert command is not None
    argv = shlex.split(command.replace("[", "").replace("]", "").replace(",", " "))
    assert argv[:3] == ["uvicorn", "--factory", f"cxpulse_{target}.app:create_app"]
    assert argv[argv.index("--port") + 1] == "8080"
    # Inside a container the server must listen beyond loopback for probes and the Service.
    assert ipaddress.ip_address(argv[argv.index("--host") + 1]).is_unspecified


@pytest.mark.parametrize("target", TARGETS)
def test_final_stages_hold_only_the_venv_code_and_config(target: str) -> None:
    lineage = _lineage(BY_NAME[target])
    assert lineage[-1].base.startswith("python:"), "final stages must not build on the builder"
    assert all(stage.name != "builder" for stage in lineage)
    copied = set()
    for stage in lineage:
        for name, rest in stage.instructions:
            assert not (name == "RUN" and re.search(r"\b(uv|pip) (sync|install)\b", rest)), f"{stage.name}: {rest}"
            if name == "COPY":
                words = rest.split()
                sources = [w for w in words[:-1] if not w.startswith("--")]
                if "--from=builder" in words:
                    copied |= set(sources)
                else:
                    copied |= {f"context:{source}" for source in sources}
    assert copied == {"/app/.venv", "/app/contracts", "/app/services", "/app/cli", "context:config/"}


def test_the_build_context_admits_only_what_the_image_copies() -> None:
    ignore = (DEPLOY / "docker" / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    rules = [line for line in ignore if line and not line.startswith("#")]
    assert rules[0] == "**", "exclude everything, then admit what is needed"
    admitted = {line[1:].rstrip("/") for line in rules if line.startswith("!")}
    copied = set()
    for stage in STAGES:
        for name, rest in stage.instructions:
            if name == "COPY" and "--from=" not in rest:
                copied |= {source.rstrip("/") for source in rest.split()[:-1] if not source.startswith("--")}
    assert copied <= admitted
    for source in copied:
        assert (REPO / source).exists(), f"the image copies {source}, which the repository lacks"


def test_the_python_version_matches_the_project() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    version = re.search(r"\d+\.\d+\.\d+", ARGUMENTS["PYTHON_IMAGE"])
    assert version
    assert SpecifierSet(project["requires-python"]).contains(version.group())
