"""One router per resource; each handler only hands validated input to a service."""
