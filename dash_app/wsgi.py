"""WSGI entry point: `gunicorn dash_app.wsgi:server`."""
from dash_app import create_app

app = create_app()
server = app.server
