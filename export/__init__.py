"""SavedModel export of a trained tfcolor run for TF-Serving: `python -m export --run RUN --output DIR`,
or `export.export_run(run, output)` from Python."""
import tfcolor  # noqa: F401  (first: sets TensorFlow's runtime options before TensorFlow loads)

# isort: split
import importlib

__all__ = ["export_model", "export_run"]


def __getattr__(name: str) -> object:
    """`export_model` and `export_run` on first use (PEP 562): `export.exporting` loads the model and training
    code, which a server reading `export.limits` or `export.warmup` must not pay for."""
    if name in __all__:
        return getattr(importlib.import_module("export.exporting"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
