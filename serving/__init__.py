"""TF-Serving deployment of exported tfcolor models: container configs, REST client, development server."""
