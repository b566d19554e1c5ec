"""What the Turing-test server refuses: one exception type per kind, each with the HTTP status it is answered with.

The store, the answer parser and the HTTP layer raise these; the handler answers every one the same way
(`status`, and `{"error": str(refusal)}` as the reason), so no status is chosen far from its cause.
"""
from __future__ import annotations

from http import HTTPStatus


class Refusal(Exception):
    """A request the study refuses; `str(refusal)` is the reason sent back."""

    status: int = HTTPStatus.BAD_REQUEST


class BadRequest(Refusal):
    """Malformed: not a JSON object, a field missing or unexpected, a number non-finite or of the wrong kind."""


class PayloadTooLarge(Refusal):
    """A request body longer than the limit; it is refused before it is read."""

    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class UnknownToken(Refusal):
    """An answer whose session token the server never issued (or issued before it restarted)."""

    status = HTTPStatus.FORBIDDEN


class NotShown(Refusal):
    """An answer for a position the session does not have."""


class AlreadyAnswered(Refusal):
    """A second answer for a pair the session has answered: the first one stands."""

    status = HTTPStatus.CONFLICT


class LimitReached(Refusal):
    """Sessions per client, sessions in all, or answers per session used up."""

    status = HTTPStatus.TOO_MANY_REQUESTS
