"""Kedro project settings (see https://docs.kedro.org/en/stable/configure/configuration_basics/)."""

from kedro.config import OmegaConfigLoader

from stock_lstm.hooks import InputErrorHooks, LineageHooks

# Telemetry never runs here (the Makefile also exports KEDRO_DISABLE_TELEMETRY=1).
DISABLE_HOOKS_FOR_PLUGINS = ("kedro-telemetry",)

# Bad input data or parameters end a command-line run with a message, not a traceback.
# Stage tables: derived stages read only what changed and record the version they came from.
HOOKS = (InputErrorHooks(), LineageHooks())

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
}
