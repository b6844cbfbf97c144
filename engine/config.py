"""Typed settings: command-line options override `FORESTALL_` environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.access import parse_tokens
from engine.store.base import DEFAULT_MAX_EVENTS_PER_CUSTOMER


def _text(value: object) -> object:
    """A path given as a `Path` is taken as its text."""
    return os.fspath(value) if isinstance(value, os.PathLike) else value


def _port_or_off(value: object) -> object:
    """`off` (or nothing) turns a listener off."""
    return None if isinstance(value, str) and value.strip().lower() in ("off", "") else value


#: The port Prometheus scrapes by default (the one OpenTelemetry's Prometheus exporters use).
DEFAULT_PROMETHEUS_PORT = 9464


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FORESTALL_", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=50051, ge=0, le=65535)
    # A SQLite file path, or a redis:// or rediss:// URL (see engine/store/redis.py for its options).
    store: Annotated[str, BeforeValidator(_text)] = "var/forestall.db"
    # Events kept per customer, the latest by time: older ones are dropped.
    max_events_per_customer: int = Field(default=DEFAULT_MAX_EVENTS_PER_CUSTOMER, ge=1)
    rules_dir: Path = Path("rules")
    # How often the rules folder is checked for a change to load; 0 turns watching off.
    rules_poll_seconds: float = Field(default=1.0, ge=0)
    # How long a changed rule set may take to compile in its throwaway process.
    rules_probe_timeout: float = Field(default=30.0, gt=0)
    # The model artifacts and models/promoted.json (models/README.md).
    models_dir: Path = Path("models")
    # How often the promoted models are checked for a change to load; 0 turns watching off.
    models_poll_seconds: float = Field(default=1.0, ge=0)
    workers: int = Field(default=8, ge=1, le=256)
    # Seconds in-flight calls get to finish on SIGTERM.
    shutdown_grace: float = Field(default=10.0, ge=0)
    # A JSON Lines file each decision is appended to, with what it read (engine/replay/decision_log.py); empty: none.
    decision_log: Annotated[str, BeforeValidator(_text)] = ""
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Key of the customer pseudonyms in logs; set one shared key for stable references.
    log_key: str = ""
    # `role:token` pairs, comma-separated, roles `decision` and `admin`; empty runs the server open.
    auth_tokens: SecretStr = SecretStr("")
    # The Prometheus metrics endpoint (HTTP, on `host`): a port, 0 for a free one, or `off` for none.
    prometheus_port: Annotated[Annotated[int, Field(ge=0, le=65535)] | None, BeforeValidator(_port_or_off)] = (
        DEFAULT_PROMETHEUS_PORT
    )

    @field_validator("auth_tokens")
    @classmethod
    def _tokens_parse(cls, value: SecretStr) -> SecretStr:
        parse_tokens(value.get_secret_value())
        return value
