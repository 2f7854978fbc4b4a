#!/usr/bin/env python3
"""DuckDB lane for coffer: SQL over s3:// URLs through DuckDB's httpfs extension.

httpfs is loaded offline from the PyPI package `duckdb-extension-httpfs` (pinned to
the duckdb version in requirements.txt; the binary is DuckDB's own signed build, so
it loads with signature checks on), never downloaded with `INSTALL httpfs`. An S3
secret points at the endpoint (`URL_STYLE 'path'`, `USE_SSL false`). Then:
`COPY (SELECT ...) TO 's3://.../x.parquet'`, `read_parquet` of it compared row for row with the values computed in
Python, several files globbed with `s3://bucket/dir/*.parquet` (`glob()` and
`read_parquet(..., filename = true)`; a nested file and a non-Parquet file in the
same prefix are not matched), a `PARTITION_BY` write read back with
`hive_partitioning`, a CSV put with boto3 read with `read_csv`, a missing key's
error, and `COPY ... TO` a CSV read back with boto3. The bucket is made and
removed with boto3.

Environment as for boto3_lane.py (only the root credentials are used).
"""

import csv
import io
import os
import secrets
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lanelib import Lane, env, root_s3, watchdog  # noqa: E402

ENDPOINT = env("COFFER_ENDPOINT").rstrip("/")
ROOT_AK = env("COFFER_ACCESS_KEY_ID")
ROOT_SK = env("COFFER_SECRET_ACCESS_KEY")
RUN_ID = env("COFFER_COMPAT_RUN_ID", required=False) or secrets.token_hex(3)

L = Lane("duckdb")
BUCKET = f"compat-duckdb-{RUN_ID}"
S3 = f"s3://{BUCKET}"
DEADLINE = int(os.environ.get("COMPAT_LANE_DEADLINE", "240"))  # the harness gives the whole lane 300 s


def httpfs_path(duckdb):
    """The httpfs.duckdb_extension shipped by duckdb-extension-httpfs for this duckdb."""
    import duckdb_extension_httpfs

    root = os.path.dirname(duckdb_extension_httpfs.__file__)
    path = os.path.join(root, "extensions", f"v{duckdb.__version__}", "httpfs.duckdb_extension")
    if not os.path.isfile(path):
        found = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith(".duckdb_extension")]
        raise FileNotFoundError(f"no {path}; the package has {found} (its version must equal duckdb's)")
    return path


def main():
    state = {}
    # http_timeout bounds each request; this bounds the lane: a running query is
    # interrupted, and the lane exits if even that does not end it.
    watchdog(L, DEADLINE, lambda: state.get("con") and state["con"].interrupt())
    try:
        import duckdb
    except ImportError as e:
        L.fail("import duckdb", e)
        return L.finish()
    print(f"[duckdb] duckdb {duckdb.__version__}", flush=True)

    # no network fetches of extensions: httpfs comes from the pip package only
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    state["con"] = con
    loaded = False
    with L.step("LOAD httpfs from the duckdb-extension-httpfs package"):
        path = httpfs_path(duckdb)
        con.execute(f"LOAD '{path}'")
        row = con.execute("SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'httpfs'").fetchone()
        loaded = L.ok("LOAD httpfs from the duckdb-extension-httpfs package (offline, signature checked)",
                      row and row[0] and not con.execute("SELECT current_setting('allow_unsigned_extensions')").fetchone()[0],
                      f"duckdb_extensions() says {row}")
    if not loaded:
        return L.finish()

    url = urllib.parse.urlparse(ENDPOINT)
    with L.step("CREATE SECRET (TYPE s3, ENDPOINT, URL_STYLE 'path', USE_SSL false)"):
        con.execute("SET http_timeout = 30")  # seconds, per request
        con.execute("SET http_retries = 1")
        con.execute(
            f"CREATE SECRET coffer (TYPE s3, PROVIDER config, KEY_ID {sql_str(ROOT_AK)}, SECRET {sql_str(ROOT_SK)}, "
            f"REGION 'us-east-1', ENDPOINT {sql_str(url.netloc)}, URL_STYLE 'path', "
            f"USE_SSL {'false' if url.scheme == 'http' else 'true'})")
        L.ok("CREATE SECRET (TYPE s3, ENDPOINT, URL_STYLE 'path', USE_SSL false)", True)

    s3 = root_s3(ENDPOINT, ROOT_AK, ROOT_SK)
    with L.step("create the lane's bucket (boto3)"):
        s3.create_bucket(Bucket=BUCKET)
        L.ok("create the lane's bucket (boto3)", True)
    try:
        with L.step("COPY TO parquet and read_parquet"):
            single(con, s3)
        with L.step("glob over several files"):
            globbing(con, s3)
        with L.step("PARTITION_BY and hive_partitioning"):
            partitioned(con)
        with L.step("CSV"):
            csvs(con, s3)
        with L.step("missing key"):
            missing(con)
    finally:
        cleanup(s3)
    return L.finish()


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


def rows_py(n, offset=0):
    """What `SELECT i, i*i % 9973, 'name ' || i, i % 5 = 0 FROM range(offset, offset + n)` gives."""
    return [(i, i * i % 9973, f"name {i} \u00e9", i % 5 == 0) for i in range(offset, offset + n)]


def select_sql(n, offset=0):
    return (f"SELECT i::BIGINT AS id, (i * i % 9973)::BIGINT AS sq, 'name ' || i || ' \u00e9' AS name, "
            f"i % 5 = 0 AS flag FROM range({offset}, {offset + n}) t(i)")


def single(con, s3):
    n = 50_000
    con.execute(f"COPY ({select_sql(n)}) TO '{S3}/x.parquet' (FORMAT parquet, ROW_GROUP_SIZE 10000)")
    head = s3.head_object(Bucket=BUCKET, Key="x.parquet")
    body = s3.get_object(Bucket=BUCKET, Key="x.parquet", Range="bytes=0-3")["Body"].read()
    L.ok("COPY (SELECT ...) TO 's3://bucket/x.parquet': the object is there, a Parquet file (PAR1)",
         head["ContentLength"] > 1000 and body == b"PAR1", f"size {head['ContentLength']}, first bytes {body!r}")
    print(f"[duckdb] x.parquet: {head['ContentLength']} bytes, ETag {head['ETag']}", flush=True)
    want = rows_py(n)
    got = con.execute(f"SELECT count(*), sum(id), sum(sq), count(*) FILTER (flag) FROM read_parquet('{S3}/x.parquet')").fetchone()
    L.eq("read_parquet: count, sum(id), sum(sq), count(flag) equal Python's",
         got, (n, sum(r[0] for r in want), sum(r[1] for r in want), sum(r[3] for r in want)))
    got = con.execute(f"SELECT * FROM read_parquet('{S3}/x.parquet') ORDER BY id").fetchall()
    L.ok("read_parquet: every row equals Python's", got == want,
         f"got {len(got)} rows, first {got[:2]}, want first {want[:2]}")
    got = con.execute(f"SELECT name FROM '{S3}/x.parquet' WHERE id BETWEEN 31234 AND 31236 ORDER BY id").fetchall()
    L.eq("SELECT name FROM 's3://...' WHERE id BETWEEN ...: one column of a few rows (ranged reads)",
         got, [(r[2],) for r in want[31234:31237]])
    got = con.execute(f"SELECT num_rows, num_row_groups FROM parquet_file_metadata('{S3}/x.parquet')").fetchone()
    L.eq("parquet_file_metadata: rows and row groups", got, (n, 5))


def globbing(con, s3):
    parts = {f"dir/part-{k}.parquet": (k * 1000, 700 + k * 100) for k in range(4)}  # offset, rows
    for key, (off, n) in parts.items():
        con.execute(f"COPY ({select_sql(n, off)}) TO '{S3}/{key}' (FORMAT parquet)")
    L.ok("COPY TO four files under s3://bucket/dir/", True)
    # not matched by dir/*.parquet: another directory level, and another extension
    con.execute(f"COPY ({select_sql(10, 900_000)}) TO '{S3}/dir/sub/nested.parquet' (FORMAT parquet)")
    s3.put_object(Bucket=BUCKET, Key="dir/readme.txt", Body=b"not parquet\n")

    got = [r[0] for r in con.execute(f"SELECT file FROM glob('{S3}/dir/*.parquet') ORDER BY file").fetchall()]
    L.eq("glob('s3://bucket/dir/*.parquet'): the four files, not dir/sub/ or dir/readme.txt",
         got, [f"{S3}/{k}" for k in sorted(parts)])
    got = [r[0] for r in con.execute(f"SELECT file FROM glob('{S3}/dir/**/*.parquet') ORDER BY file").fetchall()]
    L.eq("glob('s3://bucket/dir/**/*.parquet'): the nested one too",
         got, sorted([f"{S3}/{k}" for k in parts] + [f"{S3}/dir/sub/nested.parquet"]))

    want = {}
    for key, (off, n) in parts.items():
        rows = rows_py(n, off)
        want[f"{S3}/{key}"] = (n, sum(r[0] for r in rows), sum(r[1] for r in rows))
    got = con.execute(f"SELECT filename, count(*), sum(id), sum(sq) FROM read_parquet('{S3}/dir/*.parquet', "
                      "filename = true) GROUP BY filename").fetchall()
    L.eq("read_parquet('s3://bucket/dir/*.parquet', filename = true): rows and sums per file equal Python's",
         {r[0]: tuple(r[1:]) for r in got}, want)
    allrows = sorted(r for key, (off, n) in parts.items() for r in rows_py(n, off))
    got = con.execute(f"SELECT * FROM read_parquet('{S3}/dir/*.parquet') ORDER BY id").fetchall()
    L.ok("read_parquet over the glob: every row equals Python's", got == allrows,
         f"got {len(got)} rows, want {len(allrows)}")
    got = con.execute(f"SELECT count(*) FROM read_parquet(['{S3}/dir/part-0.parquet', '{S3}/dir/sub/nested.parquet'])").fetchone()
    L.eq("read_parquet of a list of two URLs", got, (parts["dir/part-0.parquet"][1] + 10,))


def partitioned(con):
    con.execute(f"COPY (SELECT id, sq, name, id % 3 AS k, CASE WHEN flag THEN 'y' ELSE 'n' END AS f "
                f"FROM ({select_sql(3000)})) TO '{S3}/hive' (FORMAT parquet, PARTITION_BY (k, f))")
    files = [r[0] for r in con.execute(f"SELECT file FROM glob('{S3}/hive/**/*.parquet')").fetchall()]
    dirs = sorted({f.rsplit("/", 1)[0][len(f"{S3}/hive/"):] for f in files})
    L.eq("COPY ... PARTITION_BY (k, f): one directory per k=/f= pair", dirs,
         sorted(f"k={k}/f={f}" for k in range(3) for f in "ny"))
    got = con.execute(f"SELECT k, f, count(*), sum(id) FROM read_parquet('{S3}/hive/*/*/*.parquet', "
                      "hive_partitioning = true) WHERE k = 1 GROUP BY ALL ORDER BY ALL").fetchall()
    rows = rows_py(3000)
    want = [(1, f, sum(1 for r in rows if r[0] % 3 == 1 and r[3] == (f == "y")),
             sum(r[0] for r in rows if r[0] % 3 == 1 and r[3] == (f == "y"))) for f in "ny"]
    L.eq("read_parquet(hive_partitioning = true) WHERE k = 1: counts and sums per partition", got, want)


def csvs(con, s3):
    rows = [(i, f"city {i}", round(i * 1.25, 2)) for i in range(1, 501)]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "city", "amount"])
    w.writerows(rows)
    s3.put_object(Bucket=BUCKET, Key="in/data.csv", Body=buf.getvalue().encode(), ContentType="text/csv")
    got = con.execute(f"SELECT id, city, amount FROM read_csv('{S3}/in/data.csv', header = true, "
                      "columns = {'id': 'INTEGER', 'city': 'VARCHAR', 'amount': 'DOUBLE'}) ORDER BY id").fetchall()
    L.ok("read_csv of a CSV put with boto3: every row", got == rows, f"got {len(got)} rows, first {got[:2]}")
    got = con.execute(f"SELECT count(*), sum(amount) FROM '{S3}/in/data.csv'").fetchone()
    L.eq("SELECT FROM 's3://.../data.csv' (sniffed): count and sum", (got[0], round(got[1], 2)),
         (len(rows), round(sum(r[2] for r in rows), 2)))
    con.execute(f"COPY (SELECT id, city FROM read_csv('{S3}/in/data.csv') WHERE id <= 3 ORDER BY id) "
                f"TO '{S3}/out/small.csv' (HEADER, DELIMITER ',')")
    body = s3.get_object(Bucket=BUCKET, Key="out/small.csv")["Body"].read().decode()
    L.eq("COPY ... TO 's3://.../small.csv', read with boto3", body.splitlines(),
         ["id,city", "1,city 1", "2,city 2", "3,city 3"])


def missing(con):
    try:
        con.execute(f"SELECT * FROM read_parquet('{S3}/no/such.parquet')").fetchall()
        L.fail("read_parquet of a missing key raises", "no error")
    except Exception as e:  # noqa: BLE001
        msg = str(e)
        L.ok("read_parquet of a missing key raises an IO error naming the key (404)",
             "no/such.parquet" in msg and "404" in msg,
             f"{type(e).__name__}: {msg[:300]}")


def cleanup(s3):
    with L.step("remove the lane's bucket (boto3)"):
        keys = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
            keys += [o["Key"] for o in page.get("Contents", [])]
        for i in range(0, len(keys), 1000):
            s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]]})
        s3.delete_bucket(Bucket=BUCKET)
        L.ok("remove the lane's bucket (boto3)", BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]])


if __name__ == "__main__":
    sys.exit(main())
