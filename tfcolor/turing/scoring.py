"""Scoring answers: the fooling rate with a Wilson 95% confidence interval, per session and for the study.

The study's published rate counts completed sessions only: a script that answers a few pairs and
leaves, or floods the study with half sessions, does not move it. What was counted is reported beside
it (sessions, answers, distinct clients, the most sessions one client contributed), so a reader sees
how much of the rate rests on how many people.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

Z_95 = 1.959963984540054


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; (0, 1) when there are no trials."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def summarize(answers: Iterable[dict]) -> dict:
    """Answers (`choice` "left"/"right" or None for no answer, `fooled` bool) -> counts, rate and CI.

    The fooling rate is the share of *answered* pairs where the colorized image was picked as real;
    pairs left unanswered (time ran out) are counted apart.
    """
    answers = list(answers)
    answered = [a for a in answers if a.get("choice") is not None]
    fooled = sum(1 for a in answered if a["fooled"])
    low, high = wilson_interval(fooled, len(answered))
    times = [a["response_ms"] for a in answered if a.get("response_ms") is not None]
    return {
        "pairs": len(answers),
        "answered": len(answered),
        "no_answer": len(answers) - len(answered),
        "fooled": fooled,
        "fooling_rate": fooled / len(answered) if answered else None,
        "ci95": [low, high],
        "median_response_ms": sorted(times)[len(times) // 2] if times else None,
    }


def summarize_study(sessions: dict[str, dict]) -> dict:
    """Session states by id (`answers`, `complete`, `client`) -> the study's counted rate and each session's own.

    `overall` is `summarize` over the answers of complete sessions; `counted` and `not_counted` say how
    many sessions and answers that is, and from how many clients (remote addresses, as labelled by the store).
    """
    complete = [state for state in sessions.values() if state["complete"]]
    counted = [answer for state in complete for answer in state["answers"]]
    clients = Counter(state["client"] for state in complete)
    return {
        "sessions": len(sessions),
        "counted": {"sessions": len(complete), "answers": len(counted), "clients": len(clients),
                    "most_sessions_from_one_client": max(clients.values(), default=0)},
        "not_counted": {"incomplete_sessions": len(sessions) - len(complete),
                        "answers": sum(len(state["answers"]) for state in sessions.values()) - len(counted)},
        "overall": summarize(counted),
        "per_session": {session_id: {**summarize(state["answers"]), "complete": state["complete"],
                                     "client": state["client"]}
                        for session_id, state in sessions.items()},
    }
