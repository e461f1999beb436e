"""The model providers of a call (STT, LLM, TTS, VAD, turn detection), built by a replaceable factory.

The default factory uses plugin instances that run against the providers' own APIs or a
self-hosted compatible server (``OPENAI_BASE_URL``, ``DEEPGRAM_BASE_URL``), the local
Silero VAD and the local ``v1-mini`` end-of-turn model: nothing needs LiveKit Cloud.
Plugins are built per call, never at import, because they need their API keys.

``MODEL_PROVIDERS`` swaps the factory without editing the worker: ``offline`` is the keyless
stand-in of ``worker/offline.py`` (try the agent in ``console --text`` with no key and no network),
``package.module:function`` any other factory (another vendor, a local Whisper, the scripted models
of the tests).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from livekit.agents import inference, llm, stt, tts, vad
from livekit.agents.types import NOT_GIVEN, NotGivenOr
from livekit.agents.voice.turn import TurnHandlingOptions
from livekit.plugins import deepgram, openai, silero  # imported on the main thread, as plugins must be

from memory import ConfigError
from worker.tenants import TenantConfig

__all__ = [
    "OFFLINE",
    "ModelDefaults",
    "ProviderFactory",
    "Providers",
    "default_providers",
    "load_factory",
    "load_vad",
]

OFFLINE = "offline"  # MODEL_PROVIDERS value of the keyless stand-in (worker/offline.py)


@dataclass(frozen=True)
class ModelDefaults:
    """Model names used when a tenant does not choose its own (``models:`` in tenants.yaml)."""

    stt_model: str = "nova-3"
    llm_model: str = "gpt-4.1-mini"
    tts_model: str = "gpt-4o-mini-tts"
    tts_voice: str = "alloy"
    openai_base_url: str | None = None
    deepgram_base_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ModelDefaults:
        env = os.environ if env is None else env
        base = cls()
        return cls(
            stt_model=env.get("STT_MODEL") or base.stt_model,
            llm_model=env.get("LLM_MODEL") or base.llm_model,
            tts_model=env.get("TTS_MODEL") or base.tts_model,
            tts_voice=env.get("TTS_VOICE") or base.tts_voice,
            openai_base_url=env.get("OPENAI_BASE_URL") or None,
            deepgram_base_url=env.get("DEEPGRAM_BASE_URL") or None,
        )


@dataclass
class Providers:
    """What an ``AgentSession`` of one call runs on. ``stt``/``tts`` may be ``None`` (text only)."""

    llm: llm.LLM
    stt: stt.STT | None = None
    tts: tts.TTS | None = None
    vad: vad.VAD | None = None
    turn_handling: TurnHandlingOptions = field(default_factory=dict)  # type: ignore[assignment]

    def session_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``AgentSession``; a missing part is left out, never sent to the cloud."""
        kwargs: dict[str, Any] = {"llm": self.llm, "vad": self.vad, "turn_handling": self.turn_handling}
        if self.stt is not None:
            kwargs["stt"] = self.stt
        if self.tts is not None:
            kwargs["tts"] = self.tts
        return kwargs


class ProviderFactory(Protocol):
    """Builds the providers of one call for a tenant. ``vad`` is the process's prewarmed VAD."""

    def __call__(self, tenant: TenantConfig, *, vad: vad.VAD | None) -> Providers: ...


def default_providers(tenant: TenantConfig, *, vad: vad.VAD | None) -> Providers:
    """Deepgram STT, OpenAI LLM and TTS, the prewarmed Silero VAD, the local turn detector.

    Raises whatever the plugins raise without their API keys (``DEEPGRAM_API_KEY``,
    ``OPENAI_API_KEY``), at call time, never at import.
    """
    defaults = ModelDefaults.from_env()
    openai_url: NotGivenOr[str] = defaults.openai_base_url or NOT_GIVEN
    stt_kwargs: dict[str, Any] = {}
    if defaults.deepgram_base_url:
        stt_kwargs["base_url"] = defaults.deepgram_base_url
    return Providers(
        # numerals: digits said aloud ("four four seven one") arrive as "4471", so account
        # numbers can link the caller
        stt=deepgram.STT(
            model=tenant.models.stt or defaults.stt_model, language=tenant.language, numerals=True, **stt_kwargs
        ),
        llm=openai.LLM(model=tenant.models.llm or defaults.llm_model, base_url=openai_url),
        tts=openai.TTS(
            model=tenant.models.tts or defaults.tts_model,
            voice=tenant.models.voice or defaults.tts_voice,
            base_url=openai_url,
        ),
        vad=vad,
        turn_handling={
            # pinned to the local model: the default picks LiveKit Cloud's in dev/console mode
            "turn_detection": inference.TurnDetector(version="v1-mini"),
            "interruption": {"mode": "vad"},
        },
    )


def load_vad() -> vad.VAD:
    """The Silero VAD (its model ships in the plugin's wheel); loaded once per process, in prewarm."""
    return silero.VAD.load()


def load_factory(spec: str | None) -> ProviderFactory:
    """The factory ``spec`` names: ``None`` or empty the default one, ``offline`` the keyless stand-in,
    else ``package.module:function``."""
    if not spec:
        return default_providers
    if spec.strip() == OFFLINE:
        from .offline import offline_providers

        return offline_providers
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"MODEL_PROVIDERS must be '{OFFLINE}' or look like 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"MODEL_PROVIDERS: cannot import module {module_name!r} ({exc})") from exc
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ConfigError(f"MODEL_PROVIDERS: {module_name!r} has no callable {attr!r}")
    return factory
