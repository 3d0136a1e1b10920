"""The channel's pure rules: lead status, the funnel file, the NEWS section, signatures,
the menu format, and the settings that reach the channel."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from channels.telegram.funnel import (
    DEFAULT_FUNNEL_FILE,
    FunnelContent,
    FunnelFileError,
    lead_status,
    parse_amount,
    requirements_document,
)
from channels.telegram.menu import DEFAULT_MENU, parse_menu
from channels.telegram.news import news_from_event, news_section, verify_github
from channels.telegram.payments import verify_yoomoney, yoomoney_signature
from channels.telegram.store import parse_whitelist
from secretary.settings import load_settings
from secretary.telegram import telegram_config


@pytest.mark.parametrize(("answers", "status"), [
    ({"budget": "5 000 USD", "volume": "80 a day", "deadline": "March"}, "qualified"),
    ({"budget": "3k", "volume": "100", "deadline": "June 1"}, "qualified"),
    ({"budget": "200", "volume": "5", "deadline": "tomorrow"}, "unqualified"),
    ({"budget": "not sure", "volume": "10", "deadline": "soon"}, "needs_analysis"),
    ({"budget": "5000", "volume": "lots", "deadline": "March"}, "needs_analysis"),
    ({"budget": "5000", "volume": "50", "deadline": "don't know"}, "needs_analysis"),
])
def test_lead_status_rules(answers: dict[str, str], status: str) -> None:
    assert lead_status(answers)[0] == status


def test_amounts_are_read_in_both_languages() -> None:
    assert parse_amount("$3,000") == 3000 and parse_amount("3k") == 3000
    assert parse_amount("300 тыс. ₽") == 300_000 and parse_amount("50к") == 50_000
    assert parse_amount("не знаю") is None


def test_quiz_scores_map_to_segments_and_forged_steps_are_ignored() -> None:
    funnel = FunnelContent.load()
    assert [funnel.segment(s) for s in (0, 2, 3, 5, 6, 8)] == \
        ["diy", "diy", "basic", "basic", "custom", "custom"]
    assert funnel.parse_quiz_callback("quiz:0:2") == (0, 2)
    for forged in ("quiz:9:0", "quiz:0:99", "quiz:-1:0", "quiz:0:1:2", "quiz"):
        assert funnel.parse_quiz_callback(forged) is None
    assert funnel.quiz_length == 4 and funnel.max_score == 8


def test_the_shipped_funnel_speaks_russian_and_english() -> None:
    funnel = FunnelContent.load()
    assert set(funnel.languages) == {"ru", "en"}
    for code in ("ru", "ru-RU", "RU"):
        assert funnel.language(code) is funnel.languages["ru"]
    for code in ("en", "en-GB", "de", "", None):  # a missing language falls back to en
        assert funnel.language(code) is funnel.languages["en"]
    ru = funnel.languages["ru"]
    assert ru.question_text(1) == "Вопрос 2 из 4: Сколько звонков и сообщений в день?"
    answers = {"project": "Стоматология", "channels": "Телефон", "volume": "80 звонков",
               "budget": "300 тыс", "deadline": "к марту"}
    document, status = requirements_document(answers, "custom", ru)
    assert status == "qualified"
    assert "# Требования" in document and "## Бюджет\n\n300 тыс" in document
    assert "**квалифицирован**" in document and "Budget" not in document


def _write_funnel(tmp_path: Path, edit: Callable[[dict[str, Any]], object]) -> Path:
    data = yaml.safe_load(DEFAULT_FUNNEL_FILE.read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / "funnel.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(("edit", "problem"), [
    (lambda d: d["languages"].pop("en"), "languages must include 'en'"),
    (lambda d: d["languages"]["ru"]["quiz"][0]["options"][0].update(points=5),
     "the quiz of 'ru' differs"),
    (lambda d: d["languages"]["en"]["requirements"].pop(), "requirements must have the keys"),
    (lambda d: d["languages"]["ru"]["ui"].pop("back"), "languages.ru.ui.back: Field required"),
    (lambda d: d["languages"]["en"]["ui"].update(question="Q {numbr}"),
     "question: bad placeholder 'numbr'"),
    (lambda d: d["thresholds"].update(diy=6), "diy (6) must be below basic (5)"),
    (lambda d: d["languages"]["en"]["segments"].pop("custom"), "segments lacks custom"),
    (lambda d: d["languages"]["en"]["faq"][0].update(answers=[]),
     "languages.en.faq.0.answers: Extra inputs are not permitted"),
])
def test_a_malformed_funnel_file_names_its_problem(
        tmp_path: Path, edit: Callable[[dict[str, Any]], object], problem: str) -> None:
    path = _write_funnel(tmp_path, edit)
    with pytest.raises(FunnelFileError, match=re.escape(problem)) as raised:
        FunnelContent.load(path)
    assert str(path) in str(raised.value)


def test_an_unreadable_funnel_file_names_itself(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("languages: [unclosed", encoding="utf-8")
    with pytest.raises(FunnelFileError, match=r"broken\.yaml"):
        FunnelContent.load(broken)
    with pytest.raises(FunnelFileError, match=r"missing\.yaml"):
        FunnelContent.load(tmp_path / "missing.yaml")


def test_news_section_is_cut_at_the_next_heading() -> None:
    body = "Intro\n## News\n- Voice notes\n- Stars\n### detail stays\n## Tests\nno"
    assert news_section(body) == "- Voice notes\n- Stars\n### detail stays"
    assert news_section("## NEWSLETTER\nx") == ""
    merged = {"action": "closed", "pull_request": {"merged": True, "body": body}}
    assert news_from_event("pull_request", merged) == [news_section(body)]
    unmerged = {"action": "closed", "pull_request": {"merged": False, "body": body}}
    assert news_from_event("pull_request", unmerged) == []
    push = {"commits": [{"message": "fix\n\n## NEWS\nFaster replies"}, {"message": "x"}]}
    assert news_from_event("push", push) == ["Faster replies"]


def test_signatures_need_the_secret() -> None:
    body = b'{"a": 1}'
    good = "sha256=" + hmac.new(b"s3", body, hashlib.sha256).hexdigest()
    assert verify_github(body, good, "s3")
    assert not verify_github(body, good, "other")
    assert not verify_github(body, good, "")  # no secret configured: nothing verifies
    assert not verify_github(body + b" ", good, "s3")
    fields = {"notification_type": "p2p-incoming", "operation_id": "1", "amount": "10.00",
              "currency": "643", "datetime": "2026-01-01T00:00:00Z", "sender": "4100",
              "codepro": "false", "label": "tg:1:2"}
    signed = {**fields, "sha1_hash": yoomoney_signature(fields, "ym")}
    assert verify_yoomoney(signed, "ym") is not None
    assert verify_yoomoney(signed, "") is None
    assert verify_yoomoney({**signed, "label": "tg:1:3"}, "ym") is None


def test_menu_and_whitelist_parsing() -> None:
    buttons = parse_menu(DEFAULT_MENU)
    assert len(buttons) == 8 and buttons[1].action == "pay" and buttons[0].action is None
    with pytest.raises(ValueError, match="unknown action"):
        parse_menu("X = @nope")
    with pytest.raises(ValueError, match="line 1"):
        parse_menu("no equals sign")
    assert parse_whitelist("1, 2\n3;3") == {1, 2, 3}
    with pytest.raises(ValueError):
        parse_whitelist("12 abc")


def test_settings_reach_the_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETARY_TELEGRAM__GITHUB_SECRET", "gh")
    monkeypatch.setenv("SECRETARY_TELEGRAM__PUBLIC_URL", "https://x.example")
    config = telegram_config(load_settings())
    assert config.github_secret == "gh" and config.public_url == "https://x.example"
    assert config.yoomoney_secret == "" and "gh" not in repr(config)
    assert config.funnel_file is None
    monkeypatch.setenv("SECRETARY_TELEGRAM__FUNNEL_FILE", "/etc/secretary/funnel.yaml")
    assert telegram_config(load_settings()).funnel_file == Path("/etc/secretary/funnel.yaml")
