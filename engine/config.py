"""Typed settings: command-line options override `FORESTALL_` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FORESTALL_", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=50051, ge=0, le=65535)
    store: Path = Path("var/forestall.db")
    rules_dir: Path = Path("rules")
    models_dir: Path = Path("models")
    workers: int = Field(default=8, ge=1, le=256)
    # Seconds in-flight calls get to finish on SIGTERM.
    shutdown_grace: float = Field(default=10.0, ge=0)
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Key of the customer pseudonyms in logs; set one shared key for stable references.
    log_key: str = ""
