"""The potluck REST API (FastAPI): ``create_app(settings)`` in :mod:`potluck.api.main`."""
