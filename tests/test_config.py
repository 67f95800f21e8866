"""Settings: data folders read from the working directory, missing ones reported, .env.example."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config import Settings, SettingsError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty working directory and no setting from the environment."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_data_folders_are_read_from_the_working_directory(clean_env: Path):
    for folder in ("assistants", "rules", "scoring", "campaigns", "models"):
        (clean_env / folder).mkdir()
    (clean_env / "scoring" / "default.json").write_text("{}")
    settings = Settings()
    assert settings.rules_dir == clean_env / "rules"
    assert settings.scoring_file == clean_env / "scoring" / "default.json"
    assert settings.campaigns_dir == clean_env / "campaigns"
    assert settings.assistants_dir == clean_env / "assistants"
    assert settings.data_dir == clean_env / "data"
    assert settings.check_paths() == []


def test_missing_default_folders_are_warned_about_not_silently_skipped(clean_env: Path):
    warnings = Settings().check_paths()
    assert any("no automation rules will run" in w and "RULES_DIR" in w for w in warnings)
    assert any("SCORING_FILE" in w for w in warnings)
    assert any("CAMPAIGNS_DIR" in w for w in warnings)


@pytest.mark.parametrize(
    "name", ["RULES_DIR", "SCORING_FILE", "CAMPAIGNS_DIR", "STAGES_FILE", "ASSISTANTS_DIR"]
)
def test_a_configured_path_that_does_not_exist_is_an_error(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, name: str
):
    monkeypatch.setenv(name, "missing")
    with pytest.raises(SettingsError, match=f"^{name}={clean_env / 'missing'}: no such"):
        Settings().check_paths()


def test_a_relative_path_in_dotenv_is_read_from_the_working_directory(clean_env: Path):
    (clean_env / "my-rules").mkdir()
    (clean_env / ".env").write_text("RULES_DIR=my-rules\n")
    assert Settings().rules_dir == clean_env / "my-rules"


def test_env_example_names_every_setting():
    text = (ROOT / ".env.example").read_text()
    named = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, re.MULTILINE))
    assert {name.upper() for name in Settings.model_fields} <= named, (
        "settings missing from .env.example: "
        f"{sorted({n.upper() for n in Settings.model_fields} - named)}"
    )
    secrets = ("API_KEY", "LLM_API_KEY", "TWILIO_AUTH_TOKEN", "VAPI_API_KEY", "VAPI_SECRET")
    for name in secrets:
        assert re.search(rf"^#?\s*{name}=$", text, re.MULTILINE), f"{name} must be empty"


def test_a_generated_webhook_secret_is_a_standard_webhooks_secret(clean_env: Path):
    from standardwebhooks.webhooks import Webhook

    from crm.webhooks.signing import signed_headers

    secret = Settings().resolved_webhook_secret()
    assert secret.startswith("whsec_") and Settings().resolved_webhook_secret() == secret
    Webhook(secret).verify(b"{}", signed_headers(secret, b"{}"))  # as receivers take it
