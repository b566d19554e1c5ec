"""SavedModel export of a trained tfcolor run for TF-Serving: `python -m export --run RUN --output DIR`,
or `export.export_run(run, output)` from Python."""
import tfcolor  # noqa: F401  (first: sets TensorFlow's runtime options before TensorFlow loads)
from export.exporting import export_model, export_run

__all__ = ["export_model", "export_run"]
