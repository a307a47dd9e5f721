"""One-line reasons for the Elasticsearch client's errors."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError

_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


def _reason(exc: BaseException) -> str:
    """A short, one-line reason for a transport or API error."""
    if isinstance(exc, ConnectionTimeout):
        return "timed out"
    if isinstance(exc, ApiError):
        error = exc.body.get("error") if isinstance(exc.body, dict) else None
        if isinstance(error, dict):
            cause = (error.get("root_cause") or [error])[0]
            text = f"{cause.get('type', 'error')}: {cause.get('reason', '')}"
        else:
            text = str(error or exc.message)
        return f"{exc.status_code} {text}"
    text = str(exc)
    if match := _ERRNO.search(text):
        return match.group(1).strip().lower()
    if "timed out" in text.lower():
        return "timed out"
    return text


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _item_reason(info: Mapping[str, Any]) -> str:
    """The reason one bulk item failed."""
    error = info.get("error")
    if isinstance(error, dict):
        return _one_line(f"{info.get('status')} {error.get('type')}: {error.get('reason')}")
    return _one_line(f"{info.get('status')} {error}")


def _error_type(exc: ApiError) -> str:
    error = exc.body.get("error") if isinstance(exc.body, dict) else None
    return error.get("type", "") if isinstance(error, dict) else ""
