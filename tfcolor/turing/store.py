"""Sessions of a Turing test: each participant's token, shuffled order and sides, answers, and the files they go to.

    <output>/study.json                   the study these results belong to (study.py)
    <output>/sessions/<session id>.json   one file per session, updated as it answers
    <output>/answers.csv                  every answer of every session, appended
    <output>/summary.json                 the study's fooling rate over complete sessions, and each session's

A participant is given a token (unguessable, kept in memory only) and the pairs as left and right
images by position, in an order and on sides drawn for that session alone. Pair ids, real sides and
every outcome stay here: a participant learns nothing about which side was real, not even a count at
the end, since a score per session would let a script solve the answer key over a few sessions.
Session ids (time + random) name the files, so no session ever overwrites another.
"""
from __future__ import annotations

import csv
import dataclasses
import datetime
import hashlib
import json
import random
import secrets
import threading
from collections import Counter
from pathlib import Path

from tfcolor.turing.answers import Answer
from tfcolor.turing.limits import StudyLimits
from tfcolor.turing.pairs import Pair
from tfcolor.turing.refusals import AlreadyAnswered, LimitReached, NotShown, UnknownToken
from tfcolor.turing.scoring import summarize, summarize_study
from tfcolor.turing.study import claim_folder, study_id, write_json

CSV_FIELDS = ("session_id", "pair_id", "real_side", "choice", "fooled", "response_ms", "answered_at")
SIDES = ("left", "right")


@dataclasses.dataclass(frozen=True)
class Recorded:
    """An answer taken: `reply` is all the participant is told; `summary` (the session's own score,
    once it is complete) is for the operator alone."""

    reply: dict
    session_id: str
    summary: dict | None


@dataclasses.dataclass
class _Live:
    """A session the server can still take answers for."""

    state: dict  # what goes to sessions/<id>.json
    real_sides: list[str]  # by position
    answered: set[int] = dataclasses.field(default_factory=set)


class SessionStore:
    """Creates sessions and records their answers; safe to use from several request threads.

    Raises:
        StudyMismatchError: `output` holds another study's results (from `study.claim_folder`).
    """

    def __init__(self, output: Path, pairs: list[Pair], delay: float | None, run: str,
                 limits: StudyLimits = StudyLimits()):
        self.output = Path(output)
        self.pairs = list(pairs)
        self.delay = delay
        self.run = run
        self.limits = limits
        self.study = claim_folder(self.output, {"study_id": study_id(self.pairs, delay), "run": run,
                                                "pairs": len(self.pairs), "delay_s": delay})
        (self.output / "sessions").mkdir(exist_ok=True)
        # Every session of this study on disk, earlier runs of the server included: they count in the
        # summary and against their client's limit.
        self._states = {path.stem: json.loads(path.read_text(encoding="utf-8"))
                        for path in sorted((self.output / "sessions").glob("*.json"))}
        self._started = Counter(state["client"] for state in self._states.values())
        self._live: dict[str, _Live] = {}
        self._lock = threading.Lock()

    def client_label(self, address: str) -> str:
        """A stable label for a remote address that does not write the address itself into the results."""
        return hashlib.sha256(f"{self.study['client_salt']}:{address}".encode()).hexdigest()[:16]

    def new_session(self, address: str) -> dict:
        """A fresh session for the client at `address`: its token, and the pairs by position as left/right images.

        Raises:
            LimitReached: the address has started `sessions_per_client` sessions, or the server `max_sessions`.
        """
        client = self.client_label(address)
        rng = random.SystemRandom()
        order = [pair.pair_id for pair in self.pairs]
        rng.shuffle(order)
        real_sides = [rng.choice(SIDES) for _ in order]
        token = secrets.token_urlsafe(32)
        session_id = f"{datetime.datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(4)}"
        state = {"session_id": session_id, "study_id": self.study["study_id"], "run": self.run, "client": client,
                 "delay_s": self.delay, "order": order, "answers": [], "complete": False,
                 "started_at": datetime.datetime.now().isoformat(timespec="seconds")}
        with self._lock:
            if self._started[client] >= self.limits.sessions_per_client:
                raise LimitReached(f"this address has started {self._started[client]} sessions of the study, the limit "
                                   f"per participant (the operator sets it with --max-sessions-per-client)")
            if len(self._live) >= self.limits.max_sessions:
                raise LimitReached(f"the server has started {len(self._live)} sessions, its limit; ask the operator")
            self._started[client] += 1
            self._live[token] = _Live(state, real_sides)
            self._states[session_id] = state
            self._save(state)
        by_id = {pair.pair_id: pair for pair in self.pairs}
        shown = []
        for index, (pair_id, real_side) in enumerate(zip(order, real_sides)):
            pair = by_id[pair_id]
            left, right = (pair.real, pair.colorized) if real_side == "left" else (pair.colorized, pair.real)
            shown.append({"index": index, "left": left, "right": right})
        return {"token": token, "delay": self.delay, "total": len(shown), "pairs": shown}

    def record(self, answer: Answer) -> Recorded:
        """Record one answer (`choice` None: time ran out).

        Raises:
            UnknownToken: the token was not issued by this server run.
            LimitReached: the session has answered every pair.
            NotShown: `index` is not a position of the session.
            AlreadyAnswered: the pair at `index` has an answer already.
        """
        with self._lock:
            live = self._live.get(answer.token)
            if live is None:
                raise UnknownToken("unknown session token; a session starts with POST /api/sessions (a restarted "
                                   "server forgets the tokens it gave)")
            state, total = live.state, len(live.real_sides)
            if len(live.answered) >= total:
                raise LimitReached(f"this session has answered all {total} pairs; it takes no more answers")
            if answer.index >= total:
                raise NotShown(f"index {answer.index} is not a pair shown in this session (0 to {total - 1})")
            if answer.index in live.answered:
                raise AlreadyAnswered(f"pair {answer.index} of this session is answered already; the first answer stands")
            real_side = live.real_sides[answer.index]
            row = {"session_id": state["session_id"], "pair_id": state["order"][answer.index], "real_side": real_side,
                   "choice": answer.choice, "fooled": answer.choice is not None and answer.choice != real_side,
                   "response_ms": answer.response_ms,
                   "answered_at": datetime.datetime.now().isoformat(timespec="milliseconds")}
            live.answered.add(answer.index)
            state["answers"].append(row)
            state["complete"] = len(live.answered) == total
            self._save(state)
            self._append_csv(row)
            write_json(self.output / "summary.json", {
                "study_id": self.study["study_id"], "run": self.run, "delay_s": self.delay, "pairs": total,
                **summarize_study(self._states)})
            return Recorded({"recorded": len(live.answered), "total": total, "complete": state["complete"]},
                            state["session_id"], summarize(state["answers"]) if state["complete"] else None)

    def _save(self, state: dict) -> None:
        write_json(self.output / "sessions" / f"{state['session_id']}.json", {**state, "summary": summarize(state["answers"])})

    def _append_csv(self, row: dict) -> None:
        path = self.output / "answers.csv"
        new = not path.exists()
        with path.open("a", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, CSV_FIELDS)
            if new:
                writer.writeheader()
            writer.writerow({k: "" if row[k] is None else row[k] for k in CSV_FIELDS})
