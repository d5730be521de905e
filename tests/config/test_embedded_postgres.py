"""The embedded PostgreSQL server keeps its data when every process using it has stopped."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import psycopg
    from config.embedded_postgres import embedded_postgres_socket_dir

    pgdata, step = Path(sys.argv[1]), sys.argv[2]
    host = embedded_postgres_socket_dir(pgdata, "kept")
    with psycopg.connect(host=host, user="postgres", dbname="kept", autocommit=True) as conn:
        if step == "write":
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            conn.execute("CREATE TABLE note (body text, embedding vector(3))")
            conn.execute("INSERT INTO note VALUES ('still here', '[1,2,3]')")
        else:
            print(conn.execute("SELECT body, embedding::text FROM note").fetchall())
    """
)


def run_process(pgdata: Path, step: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(pgdata), step],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_data_survives_a_stop_and_a_restart(tmp_path):
    pgdata = tmp_path / "pgdata"

    run_process(pgdata, "write")
    # The writer was the last process using the server, so the server stopped with it.
    assert not (pgdata / "postmaster.pid").exists()
    rows = run_process(pgdata, "read")

    assert rows == "[('still here', '[1,2,3]')]"


def test_the_test_database_runs_with_pgvector(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT '[1,0]'::vector <=> '[0,1]'::vector")
        (distance,) = cursor.fetchone()

    assert distance == 1.0
