"""Merging shard archives into one: every table of the schema, each shard in one transaction.

Shards (:mod:`newscrawler.shards`) split the watched sites, so an article, its versions and its
captures live in exactly one shard; a merge copies them into the target archive, renumbering the
row ids, and remembers in ``merged_rows`` which row of which shard (``archive_identity.uuid``)
became which row of the target. So a merge is idempotent: merging a shard again changes nothing,
and merging it after it crawled more adds what is new and brings its changed rows (an article's
``last_checked_at``, a crawl's ``finished_at``) up to date. Raw pages (``payloads``) are
content-addressed by their digest: a page two shards stored is stored once.

The tables are read from the schema, not listed here: a table is merged when its rows can be
matched without doubt, and refused with a :class:`MergeRefused` naming it otherwise. The rules:

- a table whose primary key is one ``INTEGER`` column (a row id) gets new ids; a ``UNIQUE``
  constraint, when it has one, is its natural key (``articles.url``), which must not already be
  in the target from elsewhere (a site's history stays in one shard: :class:`MergeConflict`);
- a table with another primary key is merged by it: kept as it is when the key is a ``digest``
  (content-addressed), else the shard's row wins (``site_paragraph_counts`` are the shard's own);
- a column that holds a row id of another table is renumbered: a declared foreign key, or, by
  the schema's naming, ``<name>_id`` / ``<anything>_<name>_id`` for table ``<name>s``
  (``site_paragraphs.article_id``, ``articles.latest_version_id``); another ``..._id`` column, or
  a table without a primary key, is refused;
- full-text indexes (virtual tables) are kept up to date by their triggers; views are left alone.
"""

from __future__ import annotations

import dataclasses
import graphlib
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from newscrawler.migrations import MIGRATIONS
from newscrawler.store import Archive

logger = logging.getLogger(__name__)

#: The merge's own bookkeeping (migration m060_shard_merges): never copied from a shard.
BOOKKEEPING = frozenset({"archive_identity", "merged_rows"})


class MergeRefused(Exception):
    """A shard cannot be merged: a table the merge cannot match rows of, a schema that differs, a
    shard that is the target itself. Nothing of the shard was written."""


class MergeConflict(MergeRefused):
    """A shard's row is already in the target from elsewhere (another shard or a crawl into the
    target): an article's history would be split between two shards. Nothing of the shard was written."""


@dataclasses.dataclass
class Table:
    """How one table is merged (see the module docstring).

    ``renumbered`` maps a column to the table whose row ids it holds; ``deferred`` are those of them
    whose table is merged after this one (set once every table is in); ``depends`` the tables whose
    rows must be in first (foreign keys, row-id columns).
    """

    name: str
    columns: list[str]
    key: list[str]
    row_id: bool
    natural_key: list[str] | None
    content_addressed: bool
    renumbered: dict[str, str]
    depends: set[str]
    self_references: list[str]
    notnull: set[str]
    deferred: set[str] = dataclasses.field(default_factory=set)


def merge_plan(conn: sqlite3.Connection) -> list[Table]:
    """The tables of an archive's schema in the order they are merged, each with its rules.

    :raises MergeRefused: for a table without a primary key, or a ``..._id`` column the rules cannot
        tell the table of.
    """
    master = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall()
    virtual = [name for name, sql in master if (sql or "").upper().startswith("CREATE VIRTUAL TABLE")]
    names = [name for name, _ in master
             if not name.startswith("sqlite_") and name not in BOOKKEEPING and name not in virtual
             and not any(name.startswith(v + "_") for v in virtual)]  # FTS5 shadow tables
    infos = {name: conn.execute(f"PRAGMA table_info([{name}])").fetchall() for name in names}
    row_id_tables = {name for name, info in infos.items()
                     if [c[1] for c in info if c[5]] and len([c for c in info if c[5]]) == 1
                     and next(c for c in info if c[5])[2].upper() == "INTEGER"}
    tables = {}
    for name in names:
        info = infos[name]
        columns = [c[1] for c in info]
        key = [c[1] for c in sorted((c for c in info if c[5]), key=lambda c: c[5])]
        if not key:
            raise MergeRefused(f"table {name} has no primary key: newscrawler merge cannot tell a shard's rows "
                               "from the target's (give it one in a migration)")
        renumbered, depends, self_references = {}, set(), []
        for fk in conn.execute(f"PRAGMA foreign_key_list([{name}])").fetchall():
            parent, column, parent_column = fk[2], fk[3], fk[4]
            if parent == name:
                self_references.append(column)
            elif parent not in BOOKKEEPING:
                depends.add(parent)
            if parent in row_id_tables and (parent_column is None or parent_column in _key_of(infos[parent])):
                renumbered[column] = parent
        for column in columns:
            if column in renumbered or not column.endswith("_id") or (name in row_id_tables and column in key):
                continue
            parent = _table_named_by(column, row_id_tables)
            if parent is None:
                raise MergeRefused(f"column {name}.{column} looks like a row id, but no table of the schema is "
                                   f"named after it: newscrawler merge cannot tell whether to renumber it")
            renumbered[column] = parent
        natural = None
        if name in row_id_tables:
            for index in conn.execute(f"PRAGMA index_list([{name}])").fetchall():
                if index[2] and index[3] == "u":  # a UNIQUE constraint of the table
                    natural = [r[2] for r in conn.execute(f"PRAGMA index_info([{index[1]}])").fetchall()]
                    break
        tables[name] = Table(name, columns, key, name in row_id_tables, natural, key == ["digest"], renumbered,
                             depends, self_references, {c[1] for c in info if c[3]})
    # Foreign keys first, then the row-id columns the naming rule found, each only where it makes no cycle.
    order = _order(tables)
    position = {name: i for i, name in enumerate(order)}
    for table in tables.values():
        for column, parent in table.renumbered.items():
            if parent == table.name or position[parent] > position[table.name]:
                if column in table.notnull:
                    raise MergeRefused(f"column {table.name}.{column} (NOT NULL) refers to {parent}, merged after "
                                       f"{table.name}: newscrawler merge cannot order these tables")
                table.deferred.add(column)
    return [tables[name] for name in order]


def _key_of(info: list[tuple]) -> list[str]:
    return [c[1] for c in info if c[5]]


def _table_named_by(column: str, tables: set[str]) -> str | None:
    """The table a ``..._id`` column names: ``article_id`` -> ``articles``, ``latest_version_id`` ->
    ``versions`` (the longest ending that names a table)."""
    words = column[:-3].split("_")
    for start in range(len(words)):
        candidate = "_".join(words[start:]) + "s"
        if candidate in tables:
            return candidate
    return None


def _order(tables: dict[str, Table]) -> list[str]:
    """Tables in merge order: declared foreign keys always, naming-rule references where no cycle."""
    edges = {name: {d for d in t.depends if d in tables} for name, t in tables.items()}
    for name, table in sorted(tables.items()):
        for parent in sorted(set(table.renumbered.values()) - {name} - edges[name]):
            trial = {**edges, name: edges[name] | {parent}}
            try:
                tuple(graphlib.TopologicalSorter(trial).static_order())
            except graphlib.CycleError:
                continue
            edges = trial
    try:
        sorter = graphlib.TopologicalSorter(edges)
        sorter.prepare()
    except graphlib.CycleError as exc:
        raise MergeRefused(f"the tables' foreign keys make a cycle: {exc.args[1]}") from None
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        order.extend(ready)
        sorter.done(*ready)
    return order


@dataclasses.dataclass
class MergeCounts:
    """What one shard's merge did, per table: ``inserted`` and ``updated`` row counts."""

    shard: str
    path: str
    inserted: dict[str, int] = dataclasses.field(default_factory=dict)
    updated: dict[str, int] = dataclasses.field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """Whether the merge wrote anything."""
        return any(self.inserted.values()) or any(self.updated.values())


def archive_uuid(conn: sqlite3.Connection, label: object) -> str:
    """An archive's identity as a shard (``archive_identity.uuid``).

    :raises MergeRefused: when the archive has none (a schema older than the merge).
    """
    try:
        row = conn.execute("SELECT uuid FROM archive_identity").fetchone()
    except sqlite3.OperationalError:
        row = None
    if row is None:
        raise MergeRefused(f"{label} has no archive_identity: its schema predates newscrawler merge "
                           "(any newscrawler crawl of it upgrades it)")
    return row[0]


def merge_shard(target: Archive, shard_path: str | Path,
                progress: Callable[[str], None] | None = None) -> MergeCounts:
    """Merge the archive at ``shard_path`` into ``target`` in one transaction (``BEGIN IMMEDIATE``):
    a crash or an error leaves the target as it was before this shard.

    The shard is opened read-only and read in one read transaction (a crawl may be writing it: the
    merge takes what was committed when it began). ``progress`` is called with each table's name.

    :raises MergeRefused: when the shard's schema differs from the target's, the shard is the target
        itself, or a table cannot be merged (see :func:`merge_plan`).
    :raises MergeConflict: when a row of the shard is in the target from elsewhere.
    :raises FileNotFoundError: when there is no file at ``shard_path``.
    :raises sqlite3.Error: when a read or write fails; nothing of the shard is then written.
    """
    shard_path = Path(shard_path)
    source = Archive.open(shard_path, readonly=True)
    try:
        src = source.db.conn
        src.execute("BEGIN")  # one snapshot of the shard for the whole merge
        theirs = src.execute("PRAGMA user_version").fetchone()[0]
        if theirs != len(MIGRATIONS):
            raise MergeRefused(f"{shard_path} has schema {theirs}, this newscrawler writes schema {len(MIGRATIONS)}: "
                               "crawl it once with this newscrawler (which upgrades it) before merging")
        shard = archive_uuid(src, shard_path)
        conn = target.db.conn
        if shard == archive_uuid(conn, target.path):
            raise MergeRefused(f"{shard_path} is the target archive itself (same archive_identity)")
        plan = merge_plan(conn)
        src_tables = {t.name: t.columns for t in merge_plan(src)}
        for table in plan:
            if src_tables.get(table.name) != table.columns:
                raise MergeRefused(f"table {table.name} differs between {shard_path} and {target.path}")
        counts = MergeCounts(shard, str(shard_path))
        conn.execute("BEGIN IMMEDIATE")
        try:
            _Merger(src, conn, shard, counts).run(plan, progress)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        logger.info("merged %s (%s) into %s: inserted %s, updated %s", shard_path, shard, target.path,
                    counts.inserted, counts.updated)
        return counts
    finally:
        if source.db.conn.in_transaction:
            source.db.conn.execute("ROLLBACK")
        source.close()


class _Merger:
    """One shard's merge, inside the target's open transaction."""

    def __init__(self, src: sqlite3.Connection, conn: sqlite3.Connection, shard: str, counts: MergeCounts):
        self.src, self.conn, self.shard, self.counts = src, conn, shard, counts
        self.ids: dict[str, dict[int, int]] = {}  # table -> shard row id -> target row id
        self.fixes: list[tuple[Table, int, dict[str, Any]]] = []  # deferred columns to set at the end
        self.inserted: set[tuple[str, int]] = set()  # (table, target row id) inserted by this merge

    def mapping(self, table: str) -> dict[int, int]:
        if table not in self.ids:
            self.ids[table] = dict(self.conn.execute(
                "SELECT source_id, target_id FROM merged_rows WHERE shard = ? AND tbl = ?", [self.shard, table]))
        return self.ids[table]

    def run(self, plan: list[Table], progress: Callable[[str], None] | None) -> None:
        for table in plan:
            if progress:
                progress(table.name)
            self.counts.inserted[table.name] = self.counts.updated[table.name] = 0
            self.merge_table(table)
        for table, target_id, values in self.fixes:  # a row inserted just now is not counted as updated too
            self.update(table, target_id, {c: self.renumber(table, c, v) for c, v in values.items()},
                        counted=(table.name, target_id) not in self.inserted)

    def renumber(self, table: Table, column: str, value: Any) -> Any:
        if value is None:
            return None
        parent = table.renumbered[column]
        found = self.mapping(parent).get(value)
        if found is None:
            raise MergeRefused(f"{self.counts.path}: {table.name}.{column} = {value} names no row of {parent} "
                               "in the shard (run PRAGMA foreign_key_check on it)")
        return found

    def merge_table(self, table: Table) -> None:
        columns = ", ".join(f"[{c}]" for c in table.columns)
        order = ", ".join([*(f"[{c}] IS NOT NULL" for c in table.self_references), *(f"[{c}]" for c in table.key)])
        cursor = self.src.execute(f"SELECT {columns} FROM [{table.name}] ORDER BY {order}")
        while batch := cursor.fetchmany(500):
            for row in batch:
                values = dict(zip(table.columns, row, strict=True))
                deferred = {c: values[c] for c in table.deferred}
                for column in table.renumbered:
                    if column not in table.deferred and not (table.row_id and column in table.key):
                        values[column] = self.renumber(table, column, values[column])
                if table.row_id:
                    target_id = self.merge_row_id(table, values)
                    if deferred:
                        self.fixes.append((table, target_id, deferred))
                else:
                    for column in table.deferred:
                        values[column] = None
                    self.merge_keyed(table, values)
                    if any(v is not None for v in deferred.values()):
                        raise MergeRefused(f"{table.name}: a deferred reference in a table without row ids")

    def merge_row_id(self, table: Table, values: dict[str, Any]) -> int:
        (id_column,) = table.key
        source_id = values.pop(id_column)
        mapping = self.mapping(table.name)
        target_id = mapping.get(source_id)
        fields = {c: v for c, v in values.items() if c not in table.deferred}
        if target_id is not None:
            self.update(table, target_id, fields)
            return target_id
        if table.natural_key:
            where = " AND ".join(f"[{c}] IS ?" for c in table.natural_key)
            found = self.conn.execute(f"SELECT [{id_column}] FROM [{table.name}] WHERE {where}",
                                      [values[c] for c in table.natural_key]).fetchone()
            if found is not None:
                key = ", ".join(f"{c} = {values[c]!r}" for c in table.natural_key)
                raise MergeConflict(
                    f"{table.name} row with {key} is already in the target from another shard "
                    "or crawl: a site's history must stay in one shard (crawl each site with one --shard)")
        insert = {**fields, **{c: None for c in table.deferred}}
        names = list(insert)
        target_id = self.conn.execute(
            f"INSERT INTO [{table.name}] ({', '.join(f'[{c}]' for c in names)}) VALUES ({', '.join('?' * len(names))})",
            [insert[c] for c in names]).lastrowid
        self.conn.execute("INSERT INTO merged_rows (shard, tbl, source_id, target_id) VALUES (?, ?, ?, ?)",
                          [self.shard, table.name, source_id, target_id])
        mapping[source_id] = target_id
        self.inserted.add((table.name, target_id))
        self.counts.inserted[table.name] += 1
        return target_id

    def update(self, table: Table, target_id: int, fields: dict[str, Any], counted: bool = True) -> None:
        """Set ``fields`` of a target row where they differ (an identical row is not written)."""
        if not fields:
            return
        (id_column,) = table.key
        names = list(fields)
        sets = ", ".join(f"[{c}] = ?" for c in names)
        differs = " OR ".join(f"[{c}] IS NOT ?" for c in names)
        values = [fields[c] for c in names]
        changed = self.conn.execute(f"UPDATE [{table.name}] SET {sets} WHERE [{id_column}] = ? AND ({differs})",
                                    [*values, target_id, *values]).rowcount
        if counted:
            self.counts.updated[table.name] += changed

    def merge_keyed(self, table: Table, values: dict[str, Any]) -> None:
        names = list(values)
        insert = (f"INSERT INTO [{table.name}] ({', '.join(f'[{c}]' for c in names)}) "
                  f"VALUES ({', '.join('?' * len(names))}) ON CONFLICT ({', '.join(f'[{c}]' for c in table.key)}) ")
        others = [c for c in names if c not in table.key]
        if table.content_addressed or not others:
            cursor = self.conn.execute(insert + "DO NOTHING", [values[c] for c in names])
            self.counts.inserted[table.name] += cursor.rowcount
            return
        before = self.conn.total_changes
        exists = self.conn.execute(
            f"SELECT 1 FROM [{table.name}] WHERE {' AND '.join(f'[{c}] IS ?' for c in table.key)}",
            [values[c] for c in table.key]).fetchone()
        self.conn.execute(
            insert + f"DO UPDATE SET {', '.join(f'[{c}] = excluded.[{c}]' for c in others)} "
            f"WHERE {' OR '.join(f'[{c}] IS NOT excluded.[{c}]' for c in others)}", [values[c] for c in names])
        if self.conn.total_changes != before:
            (self.counts.updated if exists else self.counts.inserted)[table.name] += 1
