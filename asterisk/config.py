"""Renders Asterisk's configuration for one instance from the settings.

Templates live in ``asterisk/templates`` (core, SIP, ARI, RTP) and
``dialplan/templates`` (extensions). Every value comes from the one settings
object; nothing is read from the environment here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

TEMPLATE_DIRS = (
    Path(__file__).resolve().parent / "templates",
    Path(__file__).resolve().parent.parent / "dialplan" / "templates",
)

CONTEXT = "secretary-inbound"


@dataclass(frozen=True)
class InstanceDirs:
    """Asterisk's directories for one instance, as Asterisk itself sees them."""

    etc: str
    modules: str
    varlib: str
    db: str
    data: str
    spool: str
    run: str
    log: str
    cache: str


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in TEMPLATE_DIRS]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # Asterisk .conf files, not HTML
    )


def render_all(
    *, asterisk: Any, ari: Any, ari_password: str, dirs: InstanceDirs, instance: str
) -> dict[str, str]:
    """Return {file name: text} for every template, rendered for one instance."""
    env = _environment()
    context = {
        "asterisk": asterisk,
        "ari": ari,
        "ari_password": ari_password,
        "dirs": dirs,
        "instance": instance,
        "context": CONTEXT,
        "staff": [
            {"name": p.name, "contact": p.contact,
             "password": p.password.get_secret_value() if p.password else None}
            for p in getattr(asterisk, "staff", [])
        ],
    }
    rendered: dict[str, str] = {}
    for name in env.list_templates(filter_func=lambda n: n.endswith(".conf.j2")):
        rendered[name.removesuffix(".j2")] = env.get_template(name).render(context)
    return rendered


def write_config(target_dir: Path, files: dict[str, str]) -> None:
    """Write rendered files, replacing the directory's previous configuration."""
    target_dir.mkdir(parents=True, exist_ok=True)
    for stale in target_dir.glob("*.conf"):
        if stale.name not in files:
            stale.unlink()
    for name, text in files.items():
        path = target_dir / name
        tmp = path.with_suffix(".conf.tmp")
        tmp.write_text(text)
        tmp.replace(path)
    # ARI credentials live in these files: owner-only.
    for name in files:
        (target_dir / name).chmod(0o600)
