"""Kedro hooks (listed in settings.HOOKS): they observe runs so node functions stay pure."""
