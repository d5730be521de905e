"""PostgreSQL backend that starts the embedded server on the first connection.

Starting lazily keeps commands that never touch the database (lint, type-check, `--help`) fast,
and means every connection, including the ones pytest-django opens to create the test database,
finds the server running.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db.backends.postgresql import base

from config.embedded_postgres import embedded_postgres_socket_dir


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        # Extra keys of the DATABASES entry, set by config.settings for this backend only.
        pgdata = Path(self.settings_dict["EMBEDDED_PGDATA"])
        params["host"] = embedded_postgres_socket_dir(
            pgdata, self.settings_dict["EMBEDDED_DATABASE"]
        )
        return params
