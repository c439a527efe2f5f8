"""WSGI entry point: gunicorn wsgi:app, flask --app wsgi <command>."""

from portal import create_app

app = create_app()
