"""Django database backend for the embedded PostgreSQL server (see config.embedded_postgres)."""
