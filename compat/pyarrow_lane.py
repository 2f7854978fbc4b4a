#!/usr/bin/env python3
"""pyarrow lane for coffer: Arrow's own S3 filesystem (the AWS SDK for C++ underneath)
writing and reading Parquet the way a data pipeline does.

`pyarrow.fs.S3FileSystem(endpoint_override=..., scheme="http")`, path-style: a
Hive-partitioned dataset (two partition columns) written with
`pyarrow.dataset.write_dataset` and read back whole and with filters (dataset filters
and `pyarrow.parquet.read_table(filters=...)`), compared with the original table;
one Parquet file above 10 MiB (a multipart upload, checked by its ETag) written and
read back; a recursive `get_file_info(FileSelector)` listing; raw streams (a ranged
`read_at`); `delete_file`/`delete_dir_contents`/`delete_dir`. The bucket is made and
removed with boto3.

Environment as for boto3_lane.py (only the root credentials are used).
"""

import hashlib
import os
import random
import secrets
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lanelib import Lane, env, root_s3, watchdog  # noqa: E402

ENDPOINT = env("COFFER_ENDPOINT").rstrip("/")
ROOT_AK = env("COFFER_ACCESS_KEY_ID")
ROOT_SK = env("COFFER_SECRET_ACCESS_KEY")
RUN_ID = env("COFFER_COMPAT_RUN_ID", required=False) or secrets.token_hex(3)

L = Lane("pyarrow")
BUCKET = f"compat-pyarrow-{RUN_ID}"
DS = f"{BUCKET}/events"            # the partitioned dataset
BIG = f"{BUCKET}/big/blobs.parquet"  # the single large file
MiB = 1024 * 1024
DEADLINE = int(os.environ.get("COMPAT_LANE_DEADLINE", "240"))  # the harness gives the whole lane 300 s


def main():
    # A request hanging inside the C++ client cannot be interrupted from Python.
    watchdog(L, DEADLINE)
    try:
        import pyarrow as pa
        import pyarrow.dataset as ds
        import pyarrow.fs as pafs
        import pyarrow.parquet as pq
    except ImportError as e:
        L.fail("import pyarrow", e)
        return L.finish()
    print(f"[pyarrow] pyarrow {pa.__version__}", flush=True)

    s3 = root_s3(ENDPOINT, ROOT_AK, ROOT_SK)
    with L.step("create the lane's bucket (boto3)"):
        s3.create_bucket(Bucket=BUCKET)
        L.ok("create the lane's bucket (boto3)", True)
    try:
        url = urllib.parse.urlparse(ENDPOINT)
        fs = pafs.S3FileSystem(access_key=ROOT_AK, secret_key=ROOT_SK, region="us-east-1",
                               endpoint_override=url.netloc, scheme=url.scheme or "http",
                               force_virtual_addressing=False, connect_timeout=10, request_timeout=60,
                               retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=1))
        with L.step("partitioned dataset"):
            dataset(pa, ds, pafs, pq, fs)
        with L.step("large Parquet file"):
            large_file(pa, pq, fs, s3)
        with L.step("streams"):
            streams(fs)
        with L.step("listing"):
            listing(pafs, fs)
        with L.step("deletes"):
            deletes(pafs, fs)
    finally:
        cleanup(s3)
    return L.finish()


def make_table(pa, n=4000):
    rng = random.Random(20241130)
    regions = ["eu", "us", "ap"]
    return pa.table({
        "id": pa.array(range(n), pa.int64()),
        "value": pa.array([rng.random() * 1000 for _ in range(n)], pa.float64()),
        "label": pa.array([f"event {i} \u00fc\u00df" if i % 7 else None for i in range(n)], pa.string()),
        "ts": pa.array([1_700_000_000_000_000 + i * 1_000_003 for i in range(n)], pa.timestamp("us")),
        "year": pa.array([2022 + i % 3 for i in range(n)], pa.int32()),
        "region": pa.array([regions[(i // 3) % 3] for i in range(n)], pa.string()),
    })


def dataset(pa, ds, pafs, pq, fs):
    table = make_table(pa)
    part = ds.partitioning(pa.schema([("year", pa.int32()), ("region", pa.string())]), flavor="hive")
    t0 = time.monotonic()
    ds.write_dataset(table, DS, filesystem=fs, format="parquet", partitioning=part,
                     basename_template="part-{i}.parquet", max_rows_per_file=1000, max_rows_per_group=500)
    L.ok("write_dataset: a Hive-partitioned dataset (year=/region=), 4000 rows", True)
    print(f"[pyarrow] write_dataset took {time.monotonic() - t0:.2f} s", flush=True)

    # 3 years x 3 regions, every combination present; each 444/445 rows -> 1 file (max 1000)
    infos = fs.get_file_info(pafs.FileSelector(DS, recursive=True))
    files = sorted(i.path for i in infos if i.type == pafs.FileType.File)
    want = sorted(f"{DS}/year={y}/region={r}/part-0.parquet" for y in (2022, 2023, 2024) for r in ("eu", "us", "ap"))
    L.eq("write_dataset: one file per partition, at year=Y/region=R/part-0.parquet", files, want)

    cols = table.column_names
    dset = ds.dataset(DS, filesystem=fs, format="parquet", partitioning=part)
    whole = dset.to_table().select(cols).sort_by("id")
    L.ok("dataset read back whole (sorted by id) equals the original table",
         whole.equals(table), f"got {whole.num_rows} rows, schema {whole.schema}")

    flt = (ds.field("year") == 2023) & (ds.field("region") == "eu") & (ds.field("value") > 500)
    got = dset.to_table(filter=flt).select(cols).sort_by("id")
    want_t = table.filter(flt).sort_by("id")
    L.ok("dataset filter year == 2023 and region == 'eu' and value > 500 equals the same filter done locally",
         want_t.num_rows > 0 and got.equals(want_t), f"got {got.num_rows} rows, want {want_t.num_rows}")
    frags = [f.path for f in dset.get_fragments(filter=ds.field("region") == "ap")]
    L.eq("partition pruning: fragments for region == 'ap'", sorted(frags),
         sorted(f"{DS}/year={y}/region=ap/part-0.parquet" for y in (2022, 2023, 2024)))

    got = pq.read_table(DS, filesystem=fs, partitioning=part,
                        filters=[("region", "in", ["us", "ap"]), ("year", "!=", 2022), ("id", "<", 3000)])
    got = got.select(cols).sort_by("id")
    want_t = table.filter(ds.field("region").isin(["us", "ap"]) & (ds.field("year") != 2022)
                          & (ds.field("id") < 3000)).sort_by("id")
    L.ok("parquet.read_table(filters=[region in (us, ap), year != 2022, id < 3000]) equals the local filter",
         want_t.num_rows > 0 and got.equals(want_t), f"got {got.num_rows} rows, want {want_t.num_rows}")

    one = pq.read_table(f"{DS}/year=2024/region=us/part-0.parquet", filesystem=fs, columns=["id", "value"])
    want_t = table.filter((ds.field("year") == 2024) & (ds.field("region") == "us")).select(["id", "value"])
    L.ok("one partition file read alone, two columns (ranged reads of the column chunks)",
         one.sort_by("id").equals(want_t.sort_by("id")), f"got {one.num_rows} rows, want {want_t.num_rows}")
    meta = pq.read_metadata(f"{DS}/year=2022/region=eu/part-0.parquet", filesystem=fs)
    L.eq("read_metadata: row groups of at most 500 rows", meta.num_row_groups, 1 + (meta.num_rows - 1) // 500)


def large_file(pa, pq, fs, s3):
    rng = random.Random(7)
    n = 24_000
    blobs = [rng.randbytes(1000) for _ in range(n)]  # incompressible: ~24 MB of Parquet
    table = pa.table({"k": pa.array(range(n), pa.int64()), "blob": pa.array(blobs, pa.binary())})
    t0 = time.monotonic()
    pq.write_table(table, BIG, filesystem=fs, row_group_size=4000)
    L.ok("write_table: one ~24 MB Parquet file", True)
    print(f"[pyarrow] 24 MB write_table took {time.monotonic() - t0:.2f} s", flush=True)
    info = fs.get_file_info(BIG)
    L.ok("get_file_info: the large file's size is above 10 MiB", info.type.name == "File" and info.size > 10 * MiB,
         f"type {info.type}, size {info.size}")
    head = s3.head_object(Bucket=BUCKET, Key=BIG.split("/", 1)[1])
    etag = head["ETag"].strip('"')
    L.ok("the large file was a multipart upload (ETag ends in -N, N > 1)",
         "-" in etag and int(etag.rsplit("-", 1)[1]) > 1, f"ETag {head['ETag']}")
    L.eq("head_object (boto3): ContentLength equals get_file_info's size", head["ContentLength"], info.size)
    got = pq.read_table(BIG, filesystem=fs)
    L.ok("read_table of the large file equals what was written", got.equals(table), f"got {got.num_rows} rows")
    got = pq.ParquetFile(fs.open_input_file(BIG)).read_row_group(3)
    L.ok("read_row_group(3) alone equals rows 12000..15999", got.equals(table.slice(12000, 4000)),
         f"got {got.num_rows} rows")


def streams(fs):
    data = os.urandom(3 * MiB + 11)
    path = f"{BUCKET}/raw/stream.bin"
    with fs.open_output_stream(path, metadata={"Content-Type": "application/x-test"}) as out:
        for i in range(0, len(data), 700_001):
            out.write(data[i:i + 700_001])
    with fs.open_input_stream(path) as f:
        got = f.read()
    L.ok("open_output_stream in pieces, open_input_stream: same sha256",
         hashlib.sha256(got).digest() == hashlib.sha256(data).digest(), f"got {len(got)} bytes")
    with fs.open_input_file(path) as f:
        L.eq("open_input_file: size", f.size(), len(data))
        L.ok("read_at(1000, 2 MiB + 5): the bytes of that range", f.read_at(2 * MiB + 5, 1000) == data[1000:1000 + 2 * MiB + 5])
        f.seek(len(data) - 10)
        L.ok("seek near the end and read past it: the last 10 bytes", f.read(100) == data[-10:])
    fs.copy_file(path, f"{BUCKET}/raw/copy.bin")
    with fs.open_input_stream(f"{BUCKET}/raw/copy.bin") as f:
        L.ok("copy_file (CopyObject): the copy has the same bytes", f.read() == data)
    fs.move(f"{BUCKET}/raw/copy.bin", f"{BUCKET}/raw/moved.bin")
    L.eq("move: source gone, destination there",
         [fs.get_file_info(f"{BUCKET}/raw/{n}").type.name for n in ("copy.bin", "moved.bin")], ["NotFound", "File"])


def listing(pafs, fs):
    infos = fs.get_file_info(pafs.FileSelector(BUCKET, recursive=True))
    files = {i.path: i.size for i in infos if i.type == pafs.FileType.File}
    dirs = {i.path for i in infos if i.type == pafs.FileType.Directory}
    want_files = {f"{DS}/year={y}/region={r}/part-0.parquet" for y in (2022, 2023, 2024) for r in ("eu", "us", "ap")}
    want_files |= {BIG, f"{BUCKET}/raw/stream.bin", f"{BUCKET}/raw/moved.bin"}
    L.eq("FileSelector(bucket, recursive=True): every file", sorted(files), sorted(want_files))
    want_dirs = {DS, f"{BUCKET}/big", f"{BUCKET}/raw"} | {f"{DS}/year={y}" for y in (2022, 2023, 2024)} \
        | {f"{DS}/year={y}/region={r}" for y in (2022, 2023, 2024) for r in ("eu", "us", "ap")}
    L.eq("FileSelector(bucket, recursive=True): every directory (common prefixes)", sorted(dirs), sorted(want_dirs))
    L.eq("FileSelector: sizes of the raw files", [files.get(f"{BUCKET}/raw/stream.bin"), files.get(f"{BUCKET}/raw/moved.bin")],
         [3 * MiB + 11] * 2)
    top = fs.get_file_info(pafs.FileSelector(DS, recursive=False))
    L.eq("FileSelector(dataset, recursive=False): the year= directories",
         sorted((i.path, i.type.name) for i in top), [(f"{DS}/year={y}", "Directory") for y in (2022, 2023, 2024)])
    L.eq("get_file_info of a missing path: NotFound", fs.get_file_info(f"{BUCKET}/nope/none.parquet").type.name, "NotFound")
    L.eq("get_file_info of the bucket: Directory", fs.get_file_info(BUCKET).type.name, "Directory")


def deletes(pafs, fs):
    fs.delete_file(f"{BUCKET}/raw/moved.bin")
    L.eq("delete_file: gone", fs.get_file_info(f"{BUCKET}/raw/moved.bin").type.name, "NotFound")
    fs.delete_dir_contents(f"{DS}/year=2022")
    left = fs.get_file_info(pafs.FileSelector(f"{DS}/year=2022", recursive=True, allow_not_found=True))
    L.eq("delete_dir_contents(year=2022): nothing left under it", [i.path for i in left], [])
    fs.delete_dir(DS)
    L.eq("delete_dir(dataset): gone", fs.get_file_info(DS).type.name, "NotFound")
    fs.delete_dir(f"{BUCKET}/big")
    fs.delete_dir(f"{BUCKET}/raw")
    left = fs.get_file_info(pafs.FileSelector(BUCKET, recursive=True))
    L.eq("after the deletes the bucket lists empty", [i.path for i in left], [])


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
