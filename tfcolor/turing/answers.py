"""An answer as the page posts it, checked field by field before the store sees it.

    {"token": "<from POST /api/sessions>", "index": 3, "choice": "left" | "right" | null, "response_ms": 1234}

Strict on purpose: a participant's script must not slip a NaN, an Infinity, a boolean or a fraction
past the checks into the results (Python's json reads NaN and Infinity, and True == 1).
"""
from __future__ import annotations

import dataclasses
import json
import math

from tfcolor.turing.refusals import BadRequest

CHOICES = ("left", "right")
FIELDS = ("token", "index", "choice", "response_ms")
MAX_RESPONSE_MS = 24 * 3600 * 1000


@dataclasses.dataclass(frozen=True)
class Answer:
    """One answer: `index` is the pair's position in the session; `choice` None means time ran out."""

    token: str
    index: int
    choice: str | None
    response_ms: float | None = None


def _no_constants(name: str):
    raise BadRequest(f"{name} is not a number; every number in an answer must be finite")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadRequest(f"{text} is too large; every number in an answer must be finite")
    return value


def _is_number(value) -> bool:
    return type(value) in (int, float)  # not bool, which is an int to Python


def parse_answer(body: bytes) -> Answer:
    """The answer in a request body.

    Raises:
        BadRequest: not a JSON object, a field missing, unexpected or of the wrong kind (the reason names it).
    """
    try:
        value = json.loads(body, parse_constant=_no_constants, parse_float=_finite)
    except (ValueError, RecursionError) as error:
        raise BadRequest(f"an answer is a JSON object: {error}") from None
    if not isinstance(value, dict):
        raise BadRequest(f"an answer is a JSON object with {', '.join(FIELDS)}, got {type(value).__name__}")
    unexpected = sorted(set(value) - set(FIELDS))
    if unexpected:
        raise BadRequest(f"unexpected field(s) {', '.join(unexpected)}; an answer has {', '.join(FIELDS)}")
    token = value.get("token")
    if not isinstance(token, str) or not token:
        raise BadRequest("token: missing; every answer carries the token that POST /api/sessions returned")
    index = value.get("index")
    if type(index) is not int or index < 0:
        raise BadRequest(f"index: expected the pair's position, an integer 0 or more, got {index!r}")
    if "choice" not in value or value["choice"] not in (*CHOICES, None):
        raise BadRequest(f"choice: expected 'left', 'right' or null (time ran out), got {value.get('choice')!r}")
    response_ms = value.get("response_ms")
    if response_ms is not None and not (_is_number(response_ms) and 0 <= response_ms <= MAX_RESPONSE_MS):
        raise BadRequest(f"response_ms: expected null or milliseconds from 0 to {MAX_RESPONSE_MS}, got {response_ms!r}")
    choice = value["choice"]
    return Answer(token, index, choice, None if choice is None or response_ms is None else float(response_ms))
