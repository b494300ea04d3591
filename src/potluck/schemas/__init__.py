"""Pydantic request (``*Create``) and response (``*Public``) models, one module per resource."""
