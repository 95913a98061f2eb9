"""Token counts of LLM calls, for the AI-gateway policies (``elements.ai``). Pure: bytes in, numbers out.

Where it sits: ``llm-token-limit`` / ``azure-openai-token-limit`` and ``llm-emit-token-metric`` /
``azure-openai-emit-token-metric`` read the request here (is it streamed? how many prompt tokens,
estimated?) and the backend's answer (``usage``), as Learn's pages say they do: "values in the
usage section of the response from the LLM API are used to determine token usage"; "When
``stream`` is set to ``true`` in the API request ... prompt tokens are always estimated" and
"token metrics are estimated".

Usage shapes read: chat completions / completions / embeddings (``usage.prompt_tokens``,
``completion_tokens``, ``total_tokens``) and the Responses API (``usage.input_tokens``,
``output_tokens``, ``total_tokens``; streamed in the ``response.completed`` event as
``response.usage``). A stream (``text/event-stream``) is read event by event as it passes: the
last ``usage`` seen wins (OpenAI sends it in the final chunk when ``stream_options.include_usage``
is set); without one the completion is estimated from the streamed text.

Estimates: APIM's tokenizer is not available offline; the local gateway counts one token per
four characters of text (OpenAI's rule of thumb for English text, "Tokens" in OpenAI's help),
rounded up — a documented limit (docs/policies.md).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class Usage:
    prompt: int
    completion: int
    total: int
    estimated: bool = False


def estimate(chars: int) -> int:
    return math.ceil(chars / CHARS_PER_TOKEN) if chars > 0 else 0


def _text_of(value: Any) -> int:
    """Characters of prompt text in a request field (string, list of strings/parts, messages)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(_text_of(v) for v in value)
    if isinstance(value, dict):
        if "content" in value:
            return _text_of(value["content"])
        if isinstance(value.get("text"), str):
            return len(value["text"])
    return 0


def parse_request(body: bytes | None) -> tuple[bool, int]:
    """``(streamed, estimated prompt tokens)`` of an LLM request body (JSON; anything else: 0)."""
    try:
        doc = json.loads(body or b"")
    except ValueError:
        return False, 0
    if not isinstance(doc, dict):
        return False, 0
    chars = sum(_text_of(doc.get(field)) for field in ("messages", "prompt", "input", "instructions"))
    return doc.get("stream") is True, estimate(chars)


def _usage_of(doc: Any) -> Usage | None:
    if not isinstance(doc, dict):
        return None
    usage = doc.get("usage")
    if not isinstance(usage, dict):
        nested = doc.get("response")
        return _usage_of(nested) if isinstance(nested, dict) else None
    prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
    completion = usage.get("completion_tokens", usage.get("output_tokens", 0))
    total = usage.get("total_tokens")
    if not isinstance(prompt, int):
        return None
    completion = completion if isinstance(completion, int) else 0
    return Usage(prompt, completion, total if isinstance(total, int) else prompt + completion)


def usage_of_body(body: bytes | None) -> Usage | None:
    """The ``usage`` of a whole (non-streamed) JSON response, or ``None``."""
    try:
        return _usage_of(json.loads(body or b""))
    except ValueError:
        return None


class StreamUsage:
    """Reads a server-sent-event stream as it passes (``feed`` each chunk, then ``result``)."""

    def __init__(self, prompt_estimate: int) -> None:
        self.prompt_estimate = prompt_estimate
        self._pending = b""
        self._chars = 0
        self._usage: Usage | None = None

    def feed(self, chunk: bytes) -> None:
        self._pending += chunk
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            self._line(line.rstrip(b"\r"))
        if len(self._pending) > 1 << 20:  # a line longer than 1 MiB is not an SSE event we read
            self._pending = b""

    def _line(self, line: bytes) -> None:
        if not line.startswith(b"data:"):
            return
        data = line[5:].strip()
        if not data or data == b"[DONE]":
            return
        try:
            doc = json.loads(data)
        except ValueError:
            return
        usage = _usage_of(doc)
        if usage is not None:
            self._usage = usage
        if isinstance(doc, dict):
            for choice in doc.get("choices") or []:
                if isinstance(choice, dict):
                    self._chars += _text_of(choice.get("delta") or {}) + _text_of(choice.get("text") or "")
            if isinstance(doc.get("delta"), str):  # Responses API: response.output_text.delta
                self._chars += len(doc["delta"])

    def result(self) -> Usage:
        if self._pending:
            self._line(self._pending.rstrip(b"\r"))
            self._pending = b""
        if self._usage is not None:
            return self._usage
        completion = estimate(self._chars)
        return Usage(self.prompt_estimate, completion, self.prompt_estimate + completion, estimated=True)
