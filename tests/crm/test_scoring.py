"""Lead scoring: weighted components with their explanation, adjustments, bands and config files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crm.analysis.result import Signals
from crm.scoring import ScoringConfig, ScoringError, adjust_score, score_call

ROOT = Path(__file__).resolve().parents[2]


def test_a_call_score_explains_each_component():
    signals = Signals(
        caller_turns=3,
        caller_words=40,
        price_questions=1,
        information_requests=3,
        positive_answers=1,
    )
    score = score_call(ScoringConfig(), signals, 90, ["budget", "need"], "interested")
    assert score.explanation == {
        "components": {
            "interaction": {
                "weight": 30,
                "value": 0.5,
                "points": 15.0,
                "detail": "3 caller turns (full marks at 6)",
            },
            "price_questions": {
                "weight": 25,
                "value": 0.5,
                "points": 12.5,
                "detail": "1 price questions (full marks at 2)",
            },
            "information_requests": {
                "weight": 20,
                "value": 1.0,
                "points": 20.0,
                "detail": "3 information requests (full marks at 3)",
            },
            "talk_time": {
                "weight": 15,
                "value": 0.5,
                "points": 7.5,
                "detail": "90 seconds of talk (full marks at 180)",
            },
            "positive_answers": {
                "weight": 10,
                "value": 0.333,
                "points": 3.3,
                "detail": "1 positive answers (full marks at 3)",
            },
        },
        "adjustments": {"bant.budget": 5.0, "bant.need": 5.0, "outcome.interested": 10.0},
        "base": 58.3,
        "total": 78,
        "band": "hot",
    }
    assert (score.value, score.band) == (78, "hot")


def test_full_marks_and_clamping():
    config = ScoringConfig()
    best = Signals(caller_turns=9, price_questions=4, information_requests=5, positive_answers=6)
    top = score_call(config, best, 600, ["budget", "authority", "need", "timeline"], "converted")
    assert top.value == 100 and top.band == "very_hot"
    assert top.explanation["base"] == 100 and top.explanation["adjustments"] == {}, (
        "nothing moves past 100"
    )
    wrong = score_call(config, best, 600, [], "wrong_number")
    assert wrong.value == 0 and wrong.explanation["adjustments"] == {"outcome.wrong_number": -100.0}
    silent = score_call(config, Signals(), 0, [], "not_interested")
    assert silent.value == 0 and silent.band == "cold" and silent.explanation["adjustments"] == {}


def test_rule_adjustments_add_to_the_explanation():
    config = ScoringConfig()
    first = score_call(config, Signals(caller_turns=6), 0, [], None)
    assert first.value == 30 and first.band == "warm"
    bumped = adjust_score(config, first.explanation, first.value, "rule:hot-lead", 55)
    assert (bumped.value, bumped.band) == (85, "very_hot")
    assert bumped.explanation["adjustments"] == {"rule:hot-lead": 55}
    assert first.explanation["adjustments"] == {}, "the stored explanation is not mutated"


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        (
            "default.json",
            {
                0: "cold",
                20: "cold",
                21: "warm",
                40: "warm",
                41: "interested",
                60: "interested",
                61: "hot",
                80: "hot",
                81: "very_hot",
                100: "very_hot",
            },
        ),
        (
            "hot-warm-cold.json",
            {0: "cold", 49: "cold", 50: "warm", 79: "warm", 80: "hot", 100: "hot"},
        ),
    ],
)
def test_shipped_band_files(file: str, expected: dict[int, str]):
    config = ScoringConfig.load(ROOT / "scoring" / file)
    assert {score: config.band_for(score).name for score in expected} == expected
    assert config.weights == {
        "interaction": 30,
        "price_questions": 25,
        "information_requests": 20,
        "talk_time": 15,
        "positive_answers": 10,
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "invalid JSON at line 1"),
        (
            {"weights": {"interaction": 50, "price_questions": 25}},
            "weights must add up to 100, not 75",
        ),
        ({"weights": {"interaction": 90, "charm": 10}}, "weights: unknown charm"),
        (
            {
                "bands": [
                    {"name": "cold", "min": 0, "max": 40},
                    {"name": "hot", "min": 50, "max": 100},
                ]
            },
            "bands must cover 0..100 without gaps",
        ),
        ({"outcomes": {"delighted": 10}}, "outcomes: unknown delighted"),
        ({"bands": [{"name": "Hot!", "min": 0, "max": 100}]}, "$.bands[0].name"),
    ],
)
def test_broken_scoring_files_name_the_problem(tmp_path: Path, content, message: str):
    path = tmp_path / "scoring.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(ScoringError) as error:
        ScoringConfig.load(path)
    assert str(error.value).startswith(str(path)) and message in str(error.value)
