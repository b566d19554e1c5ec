"""SavedModel export of a trained tfcolor run for TF-Serving: `python -m export --run RUN --output DIR`."""
