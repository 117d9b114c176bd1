"""Everything that touches the database or a price source. Depends on `common` only."""
