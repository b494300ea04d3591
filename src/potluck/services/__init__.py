"""The logic behind the REST API (and the CLI): feature views, models, predictions, status, jobs.

Routers stay thin: they validate input with pydantic schemas, call one function
here, and shape the answer. Everything here raises :class:`potluck.errors.PotluckError`
subclasses only.
"""
