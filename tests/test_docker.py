"""The Docker files, checked without an engine: compose schema, what the image copies, proxy."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml

from config import DATA_PATHS, Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def dockerfile_stages() -> list[dict]:
    """The Dockerfile's stages: ``{"name", "from", "workdir", "copies": [(src, dest, flags)]}``."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    stages: list[dict] = []
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        instruction, args = words[0].upper(), words[1:]
        if instruction == "FROM":
            name = args[2] if len(args) > 2 and args[1].upper() == "AS" else ""
            stages.append({"name": name, "from": args[0], "workdir": "/", "copies": []})
        elif instruction == "WORKDIR":
            stages[-1]["workdir"] = args[0]
        elif instruction == "COPY":
            flags = [a for a in args if a.startswith("--")]
            paths = [a for a in args if not a.startswith("--")]
            stages[-1]["copies"].append((paths[:-1], paths[-1], flags))
    return stages


def docker_ignored(path: str) -> bool:
    """Whether .dockerignore keeps ``path`` (relative to the root) out of the build context."""
    ignored = False
    for pattern in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = pattern.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate, pattern = pattern.startswith("!"), pattern.lstrip("!")
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, pattern.removeprefix("**/")):
            ignored = not negate
    return ignored


def test_compose_file_follows_the_compose_spec_schema():
    schema = json.loads((ROOT / "tests" / "schemas" / "compose-spec.json").read_text())
    validator = jsonschema.Draft201909Validator(schema)
    errors = sorted(validator.iter_errors(COMPOSE), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_compose_mounts_exist_and_the_data_folders_land_in_the_working_directory():
    workdir = dockerfile_stages()[-1]["workdir"]
    app = COMPOSE["services"]["app"]
    for service in COMPOSE["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{volume}: {source} does not exist"
    mounted = {v.split(":")[1] for v in app["volumes"]}
    for name in DATA_PATHS:
        top = Path(str(Settings.model_fields[name].default or "")).parts[:1]
        if top:
            assert f"{workdir}/{top[0]}" in mounted, f"{name}: {top[0]} is not mounted in {workdir}"
    assert app["env_file"] == ".env" and (ROOT / ".env.example").exists()
    assert "ports" not in app, "a fixed host port stops `--scale app=N`; the proxy publishes"


def test_compose_wires_the_llm_profile_into_the_app():
    llm = COMPOSE["services"]["llm"]
    assert llm["profiles"] == ["llm"]
    port = llm["command"][llm["command"].index("--port") + 1]
    assert f"http://llm:{port}/v1" in COMPOSE["services"]["app"]["environment"]["LLM_BASE_URL"]


def test_dockerfile_copies_exist_and_are_in_the_build_context():
    stages = dockerfile_stages()
    names = {s["name"] for s in stages if s["name"]}
    for stage in stages:
        for sources, _, flags in stage["copies"]:
            if any(f.startswith("--from=") for f in flags):
                assert flags[0].removeprefix("--from=") in names, flags
                continue
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: no such file or folder"
                assert not docker_ignored(source), f"COPY {source}: excluded by .dockerignore"


def test_the_image_holds_every_python_module_and_the_data_folders_the_server_reads():
    stages = dockerfile_stages()
    builder = next(s for s in stages if s["name"] == "builder")
    runtime = stages[-1]
    assert builder["name"] and runtime["from"] != builder["name"], "a separate builder stage"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    copied = {Path(s).name for sources, _, _ in builder["copies"] for s in sources}
    packages = [p.rstrip("*") for p in project["packages"]["find"]["include"]]
    modules = [f"{m}.py" for m in project["py-modules"]]
    assert set(packages + modules) <= copied, f"not copied: {set(packages + modules) - copied}"
    in_runtime = {Path(dest).parts[0] for _, dest, _ in runtime["copies"] if dest != "/venv"}
    for name in DATA_PATHS:
        top = Path(str(Settings.model_fields[name].default or "")).parts[:1]
        assert set(top) <= in_runtime, f"{name}: {top} is not in the image's {runtime['workdir']}"


def test_caddyfile_is_valid():
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.fail("caddy is not installed: run `make test-deps` (apt-get install caddy)")
    result = subprocess.run(
        [caddy, "adapt", "--config", str(ROOT / "deploy" / "Caddyfile"), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert '"dynamic_upstreams":{"name":"app"' in result.stdout
