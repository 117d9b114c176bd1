"""What every dataset of the package shares: how it names its database in `_describe`."""

from __future__ import annotations


def redacted_url(url: str | None) -> str | None:
    """A database URL as a dataset describes itself: the password hidden."""
    if url is None:
        return None
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
