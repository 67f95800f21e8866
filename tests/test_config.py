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


def test_instances_share_the_stream_token_key_from_the_environment(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SECRET_KEY", "one-key-for-every-instance")
    first = Settings(data_dir=clean_env / "a").signing_secret()
    second = Settings(data_dir=clean_env / "b").signing_secret()
    assert first == second == "one-key-for-every-instance"
    assert not (clean_env / "a" / "secret_key").exists(), "nothing written beside it"


def test_instances_that_share_a_data_folder_read_one_generated_secret(clean_env: Path):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda _: Settings().signing_secret(), range(32)))
    kept = (clean_env / "data" / "secret_key").read_text().strip()
    assert set(made) == {kept}, "every instance uses the one secret kept"
    assert [p.name for p in (clean_env / "data").iterdir()] == ["secret_key"], "no drafts left"


def test_a_shared_database_without_shared_secrets_is_warned_about(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
):
    assert Settings().shared_secret_warning() is None, "SQLite: one instance"
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/phoneagent")
    monkeypatch.setenv("API_KEY", "k")
    monkeypatch.setenv("VAPI_SECRET", "v")
    warning = Settings().shared_secret_warning()
    assert warning and "SECRET_KEY, WEBHOOK_SECRET not set" in warning
    monkeypatch.setenv("SECRET_KEY", "s")
    monkeypatch.setenv("WEBHOOK_SECRET", "w")
    settings = Settings()
    assert settings.shared_secret_warning() is None
