"""Assistant files: what loads, and how a broken file is reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.assistants import AssistantBook, AssistantFileError, load_assistant

ROOT = Path(__file__).resolve().parents[2]


def write(folder: Path, name: str, data) -> Path:
    path = folder / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_shipped_assistants_load():
    book = AssistantBook.load(ROOT / "assistants")
    default = book.get("default")
    assert default.first_message and default.system_prompt
    assert book.for_number("+19999999999").name == book.default_name


def test_unknown_vapi_fields_are_kept_and_reported(tmp_path: Path, capfd):
    path = write(tmp_path, "a.json", {"name": "a", "backgroundSound": "office", "model": {"emotionRecognitionEnabled": True}})
    assistant = load_assistant(path)
    assert assistant.model_extra == {"backgroundSound": "office"}
    assert assistant.model.model_extra == {"emotionRecognitionEnabled": True}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{ not json", r"invalid JSON at line 1"),
        ({"firstMessage": "hi"}, r"\$\.name: Field required"),
        ({"name": "x", "model": {"messages": [{"role": "wizard", "content": "x"}]}}, r"\$\.model\.messages\[0\]\.role"),
        ({"name": "x", "model": {"temperature": 7}}, r"\$\.model\.temperature: Input should be less than or equal to 2"),
        ({"name": "x", "firstMessageMode": "sometimes"}, r"\$\.firstMessageMode"),
    ],
)
def test_broken_files_name_file_path_and_reason(tmp_path: Path, content, expected):
    path = write(tmp_path, "broken.json", content)
    with pytest.raises(AssistantFileError, match=expected) as error:
        load_assistant(path)
    assert str(path) in str(error.value)


def test_number_routing_and_duplicate_names(tmp_path: Path):
    write(tmp_path, "a.json", {"name": "sales", "phoneNumbers": ["+15550001"]})
    write(tmp_path, "b.json", {"name": "default"})
    book = AssistantBook.load(tmp_path)
    assert book.for_number("+15550001").name == "sales"
    assert book.for_number("+15550002").name == "default"
    write(tmp_path, "c.json", {"name": "sales"})
    with pytest.raises(AssistantFileError, match="already used"):
        AssistantBook.load(tmp_path)
