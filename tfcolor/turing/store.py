"""Sessions of a Turing test: each person's randomized order, their answers, and the files they go to.

    <output>/sessions/<session id>.json   one file per person, updated as they answer
    <output>/answers.csv                  every answer of every session, appended
    <output>/summary.json                 fooling rate and 95% CI, overall and per session

Session ids are unique (time + random), so no session ever overwrites another.
"""
from __future__ import annotations

import csv
import datetime
import json
import os
import random
import secrets
import threading
from pathlib import Path

from tfcolor.turing.pairs import Pair
from tfcolor.turing.scoring import summarize

CSV_FIELDS = ("session_id", "pair_id", "real_side", "choice", "fooled", "response_ms", "answered_at")
SIDES = ("left", "right")


class AnswerError(ValueError):
    """An answer that does not fit its session (unknown session or pair, bad choice, answered twice)."""


def _write_json(path: Path, value: dict) -> None:
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(value, indent=2), encoding="utf-8")
    os.replace(temporary, path)


class SessionStore:
    """Creates sessions and records their answers; safe to use from several request threads."""

    def __init__(self, output: Path, pairs: list[Pair], delay: float | None, run: str):
        self.output = Path(output)
        (self.output / "sessions").mkdir(parents=True, exist_ok=True)
        self.pairs = {pair.pair_id: pair for pair in pairs}
        self.delay = delay
        self.run = run
        self._sessions: dict[str, dict] = {}
        self._lock = threading.Lock()

    def new_session(self) -> dict:
        """A fresh session: pairs in random order, the real photo on a random side."""
        session_id = f"{datetime.datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(4)}"
        rng = random.Random(secrets.randbits(64))
        order = list(self.pairs)
        rng.shuffle(order)
        real_sides = {pair_id: rng.choice(SIDES) for pair_id in order}
        state = {"session_id": session_id, "run": self.run, "delay_s": self.delay, "order": order,
                 "real_sides": real_sides, "answers": [],
                 "started_at": datetime.datetime.now().isoformat(timespec="seconds")}
        with self._lock:
            self._sessions[session_id] = state
            self._save(state)
        shown = []
        for pair_id in order:
            pair = self.pairs[pair_id]
            left, right = (pair.real, pair.colorized) if real_sides[pair_id] == "left" else (pair.colorized, pair.real)
            shown.append({"pair_id": pair_id, "left": left, "right": right})
        return {"session_id": session_id, "delay": self.delay, "pairs": shown}

    def record(self, session_id: str, pair_id: int, choice: str | None, response_ms: float | None) -> dict:
        """Record one answer (`choice` None: time ran out); returns progress, and the summary when done."""
        with self._lock:
            state = self._sessions.get(session_id)
            if state is None:
                raise AnswerError(f"unknown session {session_id!r}")
            if pair_id not in state["real_sides"]:
                raise AnswerError(f"pair {pair_id!r} is not part of session {session_id}")
            if any(a["pair_id"] == pair_id for a in state["answers"]):
                raise AnswerError(f"pair {pair_id} was already answered in session {session_id}")
            if choice not in (*SIDES, None):
                raise AnswerError(f"choice must be 'left', 'right' or null, got {choice!r}")
            real_side = state["real_sides"][pair_id]
            answer = {"session_id": session_id, "pair_id": pair_id, "real_side": real_side, "choice": choice,
                      "fooled": choice is not None and choice != real_side,
                      "response_ms": None if choice is None or response_ms is None else float(response_ms),
                      "answered_at": datetime.datetime.now().isoformat(timespec="milliseconds")}
            state["answers"].append(answer)
            self._save(state)
            self._append_csv(answer)
            self._save_summary()
            done = len(state["answers"]) == len(state["order"])
            return {"answered": len(state["answers"]), "total": len(state["order"]),
                    "complete": done, "summary": summarize(state["answers"]) if done else None}

    def _save(self, state: dict) -> None:
        public = {k: v for k, v in state.items() if k != "real_sides"}
        public["summary"] = summarize(state["answers"])
        public["complete"] = len(state["answers"]) == len(state["order"])
        _write_json(self.output / "sessions" / f"{state['session_id']}.json", public)

    def _append_csv(self, answer: dict) -> None:
        path = self.output / "answers.csv"
        new = not path.exists()
        with path.open("a", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, CSV_FIELDS)
            if new:
                writer.writeheader()
            writer.writerow({k: "" if answer[k] is None else answer[k] for k in CSV_FIELDS})

    def _save_summary(self) -> None:
        # From every session file on disk, so earlier runs of the test in this folder count too.
        sessions = {}
        for path in sorted((self.output / "sessions").glob("*.json")):
            sessions[path.stem] = json.loads(path.read_text(encoding="utf-8"))["answers"]
        every = [answer for answers in sessions.values() for answer in answers]
        _write_json(self.output / "summary.json", {
            "run": self.run, "sessions": len(sessions), "overall": summarize(every),
            "per_session": {sid: summarize(answers) for sid, answers in sessions.items()},
        })
