"""Command-line tools: every `python -m stock_lstm.cli.<tool>` lives here."""
