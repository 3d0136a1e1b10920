"""A bot's menu: the buttons under the chat, kept as editable text, one button a line.

    📦 Products = What do you offer?
    💳 Payment = @pay

Text after `=` is what the bot is asked when the button is pressed (answered through the
brain); `@name` is a funnel action instead (see `ACTIONS`). Parsing is strict so the admin
sees a mistake when saving, not a silent button that does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

# Funnel actions a button may trigger; they only work on bots with the funnel on.
ACTIONS = frozenset({"quiz", "requirements", "faq", "pay", "news"})
MAX_BUTTONS = 12
MAX_LABEL = 40
MAX_TEXT = 300

DEFAULT_MENU = "\n".join([
    "📦 Products = What products and services do you offer?",
    "💳 Payment = @pay",
    "🛠️ Support = I'd like to leave a message",
    "📚 Docs = Where can I find the documentation?",
    "❓ FAQ = @faq",
    "📰 News = @news",
    "🚀 Start = @quiz",
    "📋 Requests = @requirements",
])


@dataclass(frozen=True)
class MenuButton:
    label: str
    action: str | None  # one of ACTIONS, or None: ask the brain `text`
    text: str

    @property
    def is_funnel(self) -> bool:
        return self.action is not None


def parse_menu(config: str) -> tuple[MenuButton, ...]:
    """The buttons of a menu text; raises ValueError naming the bad line."""
    buttons: list[MenuButton] = []
    for number, raw in enumerate(config.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        label, sep, target = (part.strip() for part in line.partition("="))
        if not sep or not label or not target:
            raise ValueError(f"menu line {number}: write 'label = text' or 'label = @action'")
        if len(label) > MAX_LABEL or len(target) > MAX_TEXT:
            raise ValueError(f"menu line {number} is too long")
        if any(b.label == label for b in buttons):
            raise ValueError(f"menu line {number}: the label {label!r} is used twice")
        action = None
        if target.startswith("@"):
            action = target[1:]
            if action not in ACTIONS:
                raise ValueError(f"menu line {number}: unknown action {target!r}; there are "
                                 + ", ".join(f"@{a}" for a in sorted(ACTIONS)))
        buttons.append(MenuButton(label=label, action=action, text=target))
    if len(buttons) > MAX_BUTTONS:
        raise ValueError(f"a menu has at most {MAX_BUTTONS} buttons")
    return tuple(buttons)


def visible_buttons(buttons: tuple[MenuButton, ...], funnel: bool) -> tuple[MenuButton, ...]:
    """What a bot shows: funnel actions only when its funnel is on."""
    return tuple(b for b in buttons if funnel or not b.is_funnel)
