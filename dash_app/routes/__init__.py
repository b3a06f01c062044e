"""Plain Flask routes beside the pages: the REST API and its OpenAPI document, downloads, /metrics."""
