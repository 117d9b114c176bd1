"""Repository-wide guards: no SQL text built from values, no secrets committed."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

from stock_lstm.data_pipeline import database

ROOT = Path(__file__).resolve().parents[1]
SQL_SINKS = {"execute", "exec_driver_sql", "text", "read_sql", "read_sql_query", "executescript"}


def _built_strings(node: ast.AST) -> bool:
    """An f-string, `%`/`+` concatenation or `.format()` call: text assembled at run time."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)):
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
    )


def sql_built_from_values(source: str) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = (
            node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        )
        if name in SQL_SINKS and _built_strings(node.args[0]):
            lines.append(node.lineno)
    return lines


def test_the_detector_catches_built_sql():
    assert sql_built_from_values('conn.execute(f"SELECT * FROM t WHERE x = {x}")') == [1]
    assert sql_built_from_values('text("SELECT %s" % name)') == [1]
    assert sql_built_from_values('cur.execute("DELETE FROM " + table)') == [1]
    assert sql_built_from_values('session.execute("SELECT {}".format(v))') == [1]
    assert sql_built_from_values("session.execute(select(Price).where(Price.ticker == t))") == []


def test_no_sql_text_is_built_from_values_anywhere_in_the_package():
    offenders = {
        str(path.relative_to(ROOT)): lines
        for path in sorted((ROOT / "src").rglob("*.py"))
        if (lines := sql_built_from_values(path.read_text()))
    }
    assert offenders == {}, f"SQL assembled from values (use ORM / bound parameters): {offenders}"


def test_busy_timeout_pragma_matches_its_setting():
    assert database._BUSY_TIMEOUT_PRAGMA.endswith(f"={database.SQLITE_BUSY_TIMEOUT_MS}")


SECRET_PATTERNS = [
    re.compile(r"-----BEGIN (RSA |EC |OPENSSH )?PRIVATE KEY-----"),
    re.compile(r"AKIA[0-9A-Z]{16}"),
    re.compile(r"(?i)(password|secret|api_key|token)\s*[:=]\s*['\"][^'\"\s]{8,}['\"]"),
    # a password in a database URL, other than the documentation's placeholder
    re.compile(r"postgres(ql)?(\+\w+)?://[^:/\s]+:(?!(?i:password)@)[^@/\s]{3,}@"),
]


def test_no_secrets_are_committed():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    hits = []
    for name in tracked:
        path = ROOT / name
        if not path.is_file() or path.suffix in {".csv", ".keras", ".pkl"}:
            continue
        text = path.read_text(errors="ignore")
        hits += [f"{name}: {m.group(0)[:40]}" for p in SECRET_PATTERNS for m in p.finditer(text)]
    assert hits == []
    assert ".env" in (ROOT / ".gitignore").read_text().split()
