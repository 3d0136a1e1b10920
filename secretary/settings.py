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


class AsteriskSettings(BaseModel):
    """How Asterisk is found or provisioned, and the ports it binds (127.0.0.1 only)."""

    mode: Literal["auto", "system", "chroot"] = "auto"
    chroot_dir: Path | None = None  # default: <state_dir>/asterisk-root
    instance: str = "default"  # several instances may share one chroot (tests, load balancing)
    bind_address: str = "127.0.0.1"
    sip_port: int = 5060
    http_port: int = 8088
    rtp_start: int = 10000
    rtp_end: int = 10999
    # Callers that may reach the secretary without authentication (local SIP phones, tests).
    trusted_networks: list[str] = Field(default_factory=lambda: ["127.0.0.0/8"])
    extension: str = "100"
    codecs: list[str] = Field(default_factory=lambda: ["ulaw", "alaw"])
    start_timeout_s: float = 30.0


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
    """What a call does: greet, then echo the caller back or repeat what it understood."""

    persona: str = "anna"
    # echo: the caller hears itself (media check); parrot: the caller hears, in the persona's
    # voice, what speech recognition understood (hearing and speaking, end to end).
    mode: Literal["echo", "parrot"] = "echo"
    voice: str | None = None  # voice profile under voices/; default: the persona's name
    max_call_seconds: float = 3600.0


class SttSettings(BaseModel):
    """Speech recognition. The embedded default is Whisper base (int8) from PyPI packages;
    production models (Vosk ru 0.42, larger Whisper) are paths set here."""

    engine: Literal["whisper", "vosk"] = "whisper"
    whisper_model_dir: Path | None = None  # default: Whisper base joined from PyPI parts
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
    asterisk: AsteriskSettings = Field(default_factory=AsteriskSettings)
    ari: AriSettings = Field(default_factory=AriSettings)
    media: MediaSettings = Field(default_factory=MediaSettings)
    call: CallSettings = Field(default_factory=CallSettings)
    stt: SttSettings = Field(default_factory=SttSettings)
    tts: TtsSettings = Field(default_factory=TtsSettings)

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
        return f"http://{self.asterisk.bind_address}:{self.asterisk.http_port}/ari"


def load_settings(**overrides: object) -> Settings:
    """Build the settings once, at the edge; keyword overrides win over every file."""
    return Settings(**overrides)
