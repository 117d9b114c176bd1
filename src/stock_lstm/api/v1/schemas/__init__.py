"""Pydantic request and response bodies: what the API accepts and returns (never ORM classes)."""
