"""TF-Serving deployment of exported tfcolor models: container configs, REST client, development server."""
import tfcolor  # noqa: F401  (first: sets TensorFlow's runtime options before TensorFlow loads)
# isort: split
