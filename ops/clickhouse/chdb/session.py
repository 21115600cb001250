"""Serve one embedded current ClickHouse (chdb) session over stdin/stdout for a Go test.

The Go helper chdb.Start (session.go, next to this file) runs this script and keeps it for the
length of a test, so that statements and inserts share one persistent database (a temporary
directory, removed at exit) the way they would share a server: migrations, then the inserts of
the runner's write path, then the test's queries.

Protocol, one JSON object per line each way:
  first line out: {"version": "<version()>"}
  in:  {"sql": "<statement>", "data": "<rows, optional>", "format": "<output format, optional>"}
       (data, when present, follows the statement on the next line, as in
       "INSERT INTO t (a, b) FORMAT JSONEachRow\n{...}\n{...}")
  out: {"ok": true, "result": "<output>"} or {"ok": false, "error": "<ClickHouse's error text>"}
The script exits when its stdin closes.
"""

import json
import sys
import tempfile

import chdb


def reply(obj) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main() -> int:
    with tempfile.TemporaryDirectory() as path:
        conn = chdb.connect(path)
        version = str(conn.query("SELECT version()", "CSV")).strip().strip('"')
        conn.query("CREATE DATABASE IF NOT EXISTS assay", "CSV")
        conn.query("USE assay", "CSV")
        reply({"version": version})
        for line in sys.stdin:
            if not line.strip():
                continue
            req = json.loads(line)
            sql = req["sql"]
            if req.get("data") is not None:
                sql += "\n" + req["data"]
            try:
                res = conn.query(sql, req.get("format") or "TabSeparated")
                reply({"ok": True, "result": str(res)})
            except Exception as e:  # chdb raises its own error types
                reply({"ok": False, "error": str(e)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
