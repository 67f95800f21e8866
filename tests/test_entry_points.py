"""The console scripts pyproject declares (``phoneagent-call``...) name functions that exist."""

from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_console_script_resolves_to_a_function():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert {"phoneagent-server", "phoneagent-call", "phoneagent-vapi"} <= set(scripts)
    for name, target in scripts.items():
        assert callable(pkgutil.resolve_name(target)), f"{name} = {target}"
