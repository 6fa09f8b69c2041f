"""Renders the kustomize overlays once per session, from a scratch copy of deploy/.

The dev overlay's secrets come from gitignored env files that a fresh checkout lacks, so the copy
gets them from the committed `.example` files; the working tree is never written to.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.support import DEPLOY, OVERLAYS, Manifest


def _local_secrets(directory: str, names: list[str]) -> set[str]:
    """The developer's own secret files stay out of the copy, so renders never depend on them."""
    in_secrets = Path(directory).name == "secrets"
    return {name for name in names if name == ".env" or (in_secrets and name.endswith(".env"))}


@pytest.fixture(scope="session")
def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        pytest.skip("kubectl is not installed (Debian: apt-get install kubectl): the overlays cannot be rendered")
    return path


@pytest.fixture(scope="session")
def deploy_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("deploy") / "deploy"
    shutil.copytree(DEPLOY, copy, ignore=_local_secrets)
    for example in (copy / "k8s" / "overlays").glob("*/secrets/*.env.example"):
        shutil.copyfile(example, example.with_suffix(""))
    return copy


@pytest.fixture(scope="session")
def rendered(kubectl: str, deploy_copy: Path) -> dict[str, list[Manifest]]:
    """Every overlay's output, as parsed documents, by overlay name."""
    outputs: dict[str, list[Manifest]] = {}
    for overlay in OVERLAYS:
        result = subprocess.run(
            [kubectl, "kustomize", str(deploy_copy / "k8s" / "overlays" / overlay)],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert result.returncode == 0, f"kubectl kustomize overlays/{overlay} failed:\n{result.stderr}"
        documents: list[Any] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
        outputs[overlay] = documents
    return outputs
