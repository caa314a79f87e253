"""Where the model SQL lives and how a file is rendered (Jinja: ``raw(table)``, ``incremental``)."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import duckdb
import jinja2

from pipeline.modeling.link_keys import FAMILY_CODES, family_code_sql, id_sql, key_sql, touch_type_sql
from pipeline.modeling.raw_columns import NEW_LOADS, raw_relation
from pipeline.modeling.team_rule import PRIMARY_TEAM_SQL


def sql_dir() -> Path:
    """``sql/`` in a checkout; ``pipeline/_sql`` in an installed wheel."""
    checkout = Path(__file__).resolve().parents[2] / "sql"
    return checkout if checkout.is_dir() else Path(__file__).resolve().parents[1] / "_sql"


@lru_cache(maxsize=None)
def read_sql(layer: str, name: str) -> str:
    return (sql_dir() / layer / f"{name}.sql").read_text(encoding="utf-8")


# Python modules whose SQL is rendered into the models (their text changes the models like a .sql file does)
_SQL_MODULES = ("link_keys.py", "raw_columns.py", "team_rule.py")


@lru_cache(maxsize=None)
def sql_fingerprint() -> str:
    """Hash of every model file, of the modules rendered into them, and of the DuckDB version (the link
    table's keys of non-canonical ids are DuckDB ``hash()`` values): any change forces a full rebuild. Read once
    per process, like the model files themselves (:func:`read_sql`)."""
    digest = hashlib.sha256(duckdb.__version__.encode())
    here = Path(__file__).resolve().parent
    for path in [*sorted(sql_dir().glob("*/*.sql")), *(here / name for name in _SQL_MODULES)]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)


@lru_cache(maxsize=None)
def _template(layer: str, name: str) -> jinja2.Template:
    return _ENV.from_string(read_sql(layer, name))  # compiling costs ~2 ms a model: once per process


def render(con: duckdb.DuckDBPyConnection, layer: str, name: str, *, incremental: bool = False,
           raw: dict | None = None, **context) -> str:
    """Render a model; ``raw`` may carry already-read column maps of raw tables (table -> columns).

    Besides ``raw(table)`` and ``incremental``, templates get the link-key helpers of
    :mod:`pipeline.modeling.link_keys`: ``key(column)``, ``id_of(key_column, text_column)``,
    ``family_code(column)``, ``touch_type(rank_column)`` and the ``family`` codes, and ``primary_team`` (the
    owner -> team query of :mod:`pipeline.modeling.team_rule`), ``new_loads`` (the load-id range filter); ``context`` adds
    model-specific variables."""
    template = _template(layer, name)
    known = raw or {}
    return template.render(raw=lambda table: raw_relation(con, table, known.get(table)), incremental=incremental,
                           key=key_sql, id_of=id_sql, family_code=family_code_sql, touch_type=touch_type_sql,
                           family=FAMILY_CODES, primary_team=PRIMARY_TEAM_SQL, new_loads=NEW_LOADS,
                           **context)
