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


def _wanted(template: str, gsm_driver: str) -> bool:
    """Every core template; of `gsm/`, only the chosen channel driver's file and AMI."""
    if not template.startswith("gsm/"):
        return True
    return gsm_driver != "none" and template in (f"gsm/{gsm_driver}.conf.j2",
                                                 "gsm/manager.conf.j2")


def render_all(
    *, asterisk: Any, ari: Any, ari_password: str, dirs: InstanceDirs, instance: str,
    gsm: Any = None,
) -> dict[str, str]:
    """Return {file name: text} for every template, rendered for one instance. `gsm`: the
    GSM settings; with channel_driver dongle/quectel, that driver's file and AMI too."""
    env = _environment()
    gsm_driver = getattr(gsm, "channel_driver", "none") if gsm is not None else "none"
    secret = getattr(gsm, "ami_secret", None)
    context = {
        "gsm": gsm,
        "gsm_driver": gsm_driver,
        "gsm_ami_secret": secret.get_secret_value() if secret is not None else "",
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
        "trunks": [_trunk_view(t, asterisk) for t in getattr(asterisk, "trunks", [])],
    }
    # Trunks without a transport of their own arrive on transport-udp: their NAT settings
    # (settings allow only one set) go there.
    shared_nat = [t for t in context["trunks"] if t["nat"] and not t["own_transport"]]
    context["udp_nat"] = shared_nat[0] if shared_nat else None
    rendered: dict[str, str] = {}
    for name in env.list_templates(filter_func=lambda n: n.endswith(".conf.j2")):
        if _wanted(name, gsm_driver):  # gsm/dongle.conf.j2 -> dongle.conf
            rendered[name.rsplit("/", 1)[-1].removesuffix(".j2")] = \
                env.get_template(name).render(context)
    return rendered


def _trunk_view(trunk: Any, asterisk: Any) -> dict[str, Any]:
    """What the templates need of one trunk (settings.TrunkSettings), secrets revealed."""
    default_port = 5061 if trunk.transport == "tls" else asterisk.sip_port
    contact = None
    if trunk.host:
        port = trunk.host_port or (5061 if trunk.transport == "tls" else 5060)
        suffix = "" if trunk.transport == "udp" else f";transport={trunk.transport}"
        contact = f"sip:{trunk.host}:{port}{suffix}"
    local_net = list(dict.fromkeys([*asterisk.trusted_networks, *trunk.local_net]))
    return {
        "name": trunk.name,
        "provider": trunk.provider,
        "context": trunk.dialplan_context,
        "outbound_context": trunk.outbound_context,
        "codecs": trunk.codecs,
        "identify": trunk.identify_cidrs,
        "dids": trunk.dids,
        "username": trunk.username,
        "password": trunk.password.get_secret_value() if trunk.password else None,
        "inbound_auth": trunk.inbound_auth,
        "contact": contact,
        "caller_id": trunk.outbound_caller_id,
        "media_encryption": trunk.media_encryption,
        "own_transport": trunk.own_transport,
        "transport_name": f"transport-{trunk.name}" if trunk.own_transport else "transport-udp",
        "protocol": trunk.transport,
        "port": trunk.port or default_port,
        "tls_cert_file": trunk.tls_cert_file,
        "tls_key_file": trunk.tls_key_file,
        "tls_ca_file": trunk.tls_ca_file,
        "tls_method": trunk.tls_method,
        "nat": trunk.nat,
        "external_media_address": trunk.external_media_address,
        "external_signaling_address": trunk.external_signaling_address,
        "local_net": local_net,
    }


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
