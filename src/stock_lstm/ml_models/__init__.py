"""Machine-learning models: frames and arrays in, frames and arrays out; no database, no API."""
