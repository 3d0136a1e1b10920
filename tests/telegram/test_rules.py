"""The channel's pure rules: lead status, the NEWS section, signatures, the menu format,
and the settings that reach the channel."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from channels.telegram.funnel import QUIZ, lead_status, parse_quiz_callback, quiz_segment
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


def test_quiz_scores_map_to_segments_and_forged_steps_are_ignored() -> None:
    assert [quiz_segment(s) for s in (0, 2, 3, 5, 6, 8)] == \
        ["diy", "diy", "basic", "basic", "custom", "custom"]
    assert parse_quiz_callback("quiz:0:2") == (0, 2)
    for forged in ("quiz:9:0", "quiz:0:99", "quiz:-1:0", "quiz:0:1:2", "quiz"):
        assert parse_quiz_callback(forged) is None
    assert len(QUIZ) == 4


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
