"""Apply SQL statements to an embedded current ClickHouse (chdb) and report the first failure.

The Go helper chdb.AfterMigrations (chdb.go, next to this file) writes the statements of every
migration, in order, then the queries a test checks, as a JSON list to a file and runs this
script on it, so the same SQL is proven on the 18.16 server (the live tests) and on a current
release (here) without a second server.

usage: python apply.py STATEMENTS.json
prints one JSON object: {"version": ..., "applied": N} or {"error": ..., "statement": ...}
"""

import json
import sys
import tempfile

import chdb


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        statements = json.load(f)
    with tempfile.TemporaryDirectory() as path:
        conn = chdb.connect(path)
        version = str(conn.query("SELECT version()", "CSV")).strip().strip('"')
        conn.query("CREATE DATABASE IF NOT EXISTS assay", "CSV")
        conn.query("USE assay", "CSV")
        for i, stmt in enumerate(statements):
            try:
                conn.query(stmt, "CSV")
            except Exception as e:  # chdb raises its own error types
                print(json.dumps({"version": version, "applied": i, "statement": stmt, "error": str(e)}))
                return 1
        print(json.dumps({"version": version, "applied": len(statements)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
