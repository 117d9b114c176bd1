"""`make bench`: timed measurements of the project, written to benchmarks/results.json.

Each section is a module with `run(options) -> dict`, registered in `__main__.SECTIONS`; add a
section (e.g. pipeline stage timings) by adding a module and one line there.
"""
