#!/usr/bin/env python3
"""s4cmd lane for coffer: s4cmd 2.1.0 (PyPI; boto3 underneath, many threads) as a subprocess.

s4cmd downloads every object with a ranged GET, and asks for an empty one with
`Range: bytes=0--1`, which AWS ignores (RFC 9110) and serves whole; a server that refuses it
breaks `get` of empty files and stops `dsync` part-way. The job: mb, put, `dsync` up a tree
with empty files, a nested directory and a 12 MiB file (multipart above a 5 MiB split), ls,
du, `dsync` down and `get` of an empty file compared by sha256, a server-side `cp -r` and
`mv`, `cat`, `del -r`, the bucket checked and removed with boto3.

Environment as for boto3_lane.py (only the endpoint and the root credentials are used);
S4CMD (optional) names the s4cmd executable, default: `s4cmd` next to this Python
interpreter, else on PATH.
"""

import os
import secrets
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lanelib import Lane, env, read_tree, root_s3  # noqa: E402

ENDPOINT = env("COFFER_ENDPOINT").rstrip("/")
ROOT_AK = env("COFFER_ACCESS_KEY_ID")
ROOT_SK = env("COFFER_SECRET_ACCESS_KEY")
RUN_ID = env("COFFER_COMPAT_RUN_ID", required=False) or secrets.token_hex(3)

L = Lane("s4cmd")
BUCKET = f"compat-s4cmd-{RUN_ID}"
MiB = 1024 * 1024
SPLIT = str(5 * MiB)


def find_s4cmd():
    explicit = os.environ.get("S4CMD")
    if explicit:
        return explicit
    beside = os.path.join(os.path.dirname(sys.executable), "s4cmd")
    return beside if os.path.exists(beside) else shutil.which("s4cmd")


def s4(exe, *args):
    """s4cmd with the credentials in its environment (S3_ACCESS_KEY/S3_SECRET_KEY), never
    in its arguments, and one try: a retry must not hide a failed request."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
    environment.update(S3_ACCESS_KEY=ROOT_AK, S3_SECRET_KEY=ROOT_SK)
    cmd = [exe, f"--endpoint-url={ENDPOINT}", "--retry=1", "--retry-delay=1",
           f"--multipart-split-size={SPLIT}", f"--max-singlepart-upload-size={SPLIT}",
           f"--max-singlepart-download-size={SPLIT}", f"--max-singlepart-copy-size={SPLIT}", *args]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=environment)
        return p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired:
        return -9, "[timed out after 120 s]"


def ok_run(check, result):
    """Exit 0 and none of s4cmd's error lines (`[Runtime Failure] ...`, `[Thread Failure] ...`)."""
    rc, out = result
    errors = [line for line in out.splitlines() if line.startswith("[")]
    L.ok(check, rc == 0 and not errors, f"exit {rc}: {(errors or [out])[-1][-400:]}")
    return out


def main():
    exe = find_s4cmd()
    if not exe:
        L.fail("s4cmd installed", "s4cmd not found (compat/run.sh installs it into the venv)")
        return L.finish()
    work = tempfile.mkdtemp(prefix="coffer-s4cmd-lane-")
    s3 = root_s3(ENDPOINT, ROOT_AK, ROOT_SK)
    try:
        with L.step("s4cmd job"):
            job(exe, work, s3)
    finally:
        try:  # left behind only when the job stopped early
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
                for o in page.get("Contents", []):
                    s3.delete_object(Bucket=BUCKET, Key=o["Key"])
            s3.delete_bucket(Bucket=BUCKET)
        except Exception:  # noqa: BLE001 - already gone
            pass
        shutil.rmtree(work, ignore_errors=True)
    return L.finish()


def job(exe, work, s3):
    rc, out = s4(exe, "--version")
    L.ok("s4cmd --version", rc == 0, out)
    print(f"[s4cmd] {out.strip()}", flush=True)
    up = os.path.join(work, "up")
    files = {
        "empty.txt": b"",
        "docs/also-empty": b"",
        "docs/readme.md": b"# synced by s4cmd\n",
        "docs/deep/er/file.txt": b"deep\n" * 100,
        "big.bin": os.urandom(12 * MiB + 11),
    }
    for rel, data in files.items():
        os.makedirs(os.path.dirname(os.path.join(up, rel)), exist_ok=True)
        with open(os.path.join(up, rel), "wb") as f:
            f.write(data)
    want = read_tree(up)

    ok_run("mb", s4(exe, "mb", f"s3://{BUCKET}"))
    ok_run("dsync a tree up (empty files, 12 MiB multipart)", s4(exe, "dsync", up, f"s3://{BUCKET}/t"))
    listed = {o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}
    L.eq("dsync up: every file an object of its size", listed, {f"t/{k}": len(v) for k, v in files.items()})
    etag = s3.head_object(Bucket=BUCKET, Key="t/big.bin")["ETag"].strip('"')
    L.ok("big.bin: uploaded in parts (multipart ETag -N)", "-" in etag, etag)
    out = ok_run("ls -r", s4(exe, "ls", "-r", f"s3://{BUCKET}/t/"))
    L.ok("ls -r lists every object", all(f"s3://{BUCKET}/t/{k}" in out for k in files), out[-400:])
    out = ok_run("du -r", s4(exe, "du", "-r", f"s3://{BUCKET}/t/"))
    L.ok("du -r: the total size", out.split()[:1] == [str(sum(len(v) for v in files.values()))], out)

    down = os.path.join(work, "down")
    ok_run("dsync the tree down (ranged GETs; bytes=0--1 for the empty files)",
           s4(exe, "dsync", f"s3://{BUCKET}/t", down))
    L.eq("dsync down: every file, sha256 equal", read_tree(down) if os.path.isdir(down) else {}, want)
    one = os.path.join(work, "one-empty")
    ok_run("get an empty object", s4(exe, "get", f"s3://{BUCKET}/t/empty.txt", one))
    L.ok("get an empty object: an empty file", os.path.isfile(one) and os.path.getsize(one) == 0)
    # s4cmd 2.1 on Python 3 prints the bytes' repr (its bug), so the bytes are looked for in it.
    rc, out = s4(exe, "cat", f"s3://{BUCKET}/t/docs/readme.md")
    L.ok("cat: the object's bytes", rc == 0 and repr(files["docs/readme.md"]) in out, out)

    ok_run("cp -r s3 -> s3 (server-side, multipart copy of big.bin)",
           s4(exe, "cp", "-r", f"s3://{BUCKET}/t", f"s3://{BUCKET}/copy"))
    ok_run("mv an object", s4(exe, "mv", f"s3://{BUCKET}/copy/docs/readme.md", f"s3://{BUCKET}/moved.md"))
    back = os.path.join(work, "back")
    ok_run("dsync the copy down", s4(exe, "dsync", f"s3://{BUCKET}/copy", back))
    copied = dict(want)
    copied.pop("docs/readme.md")
    L.eq("the server-side copy: every file, sha256 equal (the moved one gone)",
         read_tree(back) if os.path.isdir(back) else {}, copied)
    body = s3.get_object(Bucket=BUCKET, Key="moved.md")["Body"].read()
    L.eq("mv: the object at its new key", body, files["docs/readme.md"])

    ok_run("del -r", s4(exe, "del", "-r", f"s3://{BUCKET}/"))
    L.eq("del -r: the bucket is empty", s3.list_objects_v2(Bucket=BUCKET).get("KeyCount"), 0)
    s3.delete_bucket(Bucket=BUCKET)
    L.ok("bucket deleted (boto3)", True)


if __name__ == "__main__":
    sys.exit(main())
