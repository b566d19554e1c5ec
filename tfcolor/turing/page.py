"""The test's single web page, in its two forms: served (answers go to the server) or self-contained."""
from __future__ import annotations

import dataclasses
import json
from importlib import resources

from tfcolor.turing.pairs import Pair


def render(mode: str, delay: float | None, pairs: list[Pair] | None = None) -> str:
    """The page with its configuration embedded; `static` mode also embeds every image."""
    config = {"mode": mode, "delay": delay}
    if mode == "static":
        config["pairs"] = [dataclasses.asdict(pair) for pair in pairs or []]
    # "</" inside a <script> block would end it early; JSON allows the escaped form.
    embedded = json.dumps(config).replace("</", "<\\/")
    template = resources.files("tfcolor.turing").joinpath("page.html").read_text(encoding="utf-8")
    return template.replace("__CONFIG__", embedded)
