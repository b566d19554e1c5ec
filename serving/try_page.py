"""The dev server's page at `/` for trying a model in a browser, beside its REST API on the same origin.

The page (`try_page.html`, inline CSS and JS, nothing fetched from the internet) sends each photo in the
same `:predict` request a client sends, so what it shows is what TF-Serving would answer. TF-Serving has
no endpoint that lists its models, so the served model's name is embedded in the page here.
Standard library only: the dev server imports it.
"""
from __future__ import annotations

import functools
import json
from importlib import resources

PATHS = ("/", "/index.html")
CONTENT_TYPE = "text/html; charset=utf-8"
# Same origin only: the page's own inline style and script, images from data: and blob: URLs (the photos
# and PNGs it builds), requests to this server; nothing framed, no forms, no <base>.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; style-src 'unsafe-inline'; "
                               "script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
_PLACEHOLDER = "__CONFIG__"


@functools.cache
def render(model_name: str) -> str:
    """The page for serving `model_name`, read and rendered once per name.

    The configuration goes into a `<script type="application/json">` block; `<`, `>` and `&` are written
    as JSON escapes, so no model name can close that block or open markup.
    """
    config = json.dumps({"models": [model_name]})
    embedded = config.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    template = resources.files("serving").joinpath("try_page.html").read_text(encoding="utf-8")
    return template.replace(_PLACEHOLDER, embedded)
