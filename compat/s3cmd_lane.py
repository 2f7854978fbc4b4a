#!/usr/bin/env python3
"""s3cmd lane for coffer: the s3cmd command (from the compat venv) as its users run it,
path-style over plain HTTP with SigV4: buckets, objects, multipart, sync, and sharing with
ACLs (`setacl --acl-public`, `--acl-grant`, `put --acl-public`), checked with unsigned
requests as a browser or curl would send them.

ACLs need a bucket with ACLs enabled, as on AWS, where new buckets have them disabled: the
lane turns them on with boto3 (s3cmd has no command for object ownership), and checks that
on a bucket left at the default s3cmd's ACL change is refused with AWS's code.

Environment as for boto3_lane.py; S3CMD (optional) names the s3cmd executable, default:
`s3cmd` next to this Python interpreter, else on PATH.
"""

import filecmp
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from lanelib import Lane, env  # noqa: E402

ENDPOINT = env("COFFER_ENDPOINT").rstrip("/")
ROOT_AK = env("COFFER_ACCESS_KEY_ID")
ROOT_SK = env("COFFER_SECRET_ACCESS_KEY")
USER2_AK = env("COFFER_USER2_ACCESS_KEY_ID")
USER2_SK = env("COFFER_USER2_SECRET_ACCESS_KEY")
USER2_ID = env("COFFER_USER2_CANONICAL_ID")
RUN_ID = env("COFFER_COMPAT_RUN_ID", required=False) or secrets.token_hex(3)

L = Lane("s3cmd")
SHARED = f"compat-s3cmd-{RUN_ID}"
DEFAULT = f"compat-s3cmd-enforced-{RUN_ID}"


def find_s3cmd():
    explicit = os.environ.get("S3CMD")
    if explicit:
        return explicit
    beside = os.path.join(os.path.dirname(sys.executable), "s3cmd")
    if os.path.exists(beside):
        return beside
    found = shutil.which("s3cmd")
    if not found:
        print("s3cmd not found", file=sys.stderr)
        sys.exit(2)
    return found


S3CMD = find_s3cmd()


class S3cmd:
    """s3cmd with its own config file, as `s3cmd --configure` would write it."""

    def __init__(self, workdir, name, ak, sk):
        host = urllib.parse.urlparse(ENDPOINT).netloc
        self.config = os.path.join(workdir, f"s3cfg-{name}")
        with open(self.config, "w") as f:
            f.write(
                "[default]\n"
                f"access_key = {ak}\n"
                f"secret_key = {sk}\n"
                f"host_base = {host}\n"
                f"host_bucket = {host}\n"
                "use_https = False\n"
                "signature_v2 = False\n"
                "bucket_location = us-east-1\n"
                "check_ssl_certificate = False\n"
                "progress_meter = False\n"
            )

    def run(self, *args):
        p = subprocess.run(
            [S3CMD, "-c", self.config, "--no-mime-magic", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        return p.returncode, p.stdout + p.stderr


def anonymous_get(bucket, key):
    try:
        with urllib.request.urlopen(f"{ENDPOINT}/{bucket}/{urllib.parse.quote(key)}", timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def ok_run(check, result):
    rc, out = result
    L.ok(check, rc == 0, f"exit {rc}: {out[-300:]}")
    return out


def main():
    work = tempfile.mkdtemp(prefix="coffer-s3cmd-")
    root = S3cmd(work, "root", ROOT_AK, ROOT_SK)
    user2 = S3cmd(work, "user2", USER2_AK, USER2_SK)
    admin = boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        aws_access_key_id=ROOT_AK,
        aws_secret_access_key=ROOT_SK,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    small = os.path.join(work, "hello.txt")
    with open(small, "wb") as f:
        f.write(b"hello from s3cmd\n")
    big = os.path.join(work, "big.bin")
    with open(big, "wb") as f:
        f.write(os.urandom(12 << 20))

    with L.step("mb, put, ls, get"):
        ok_run("mb", root.run("mb", f"s3://{SHARED}"))
        ok_run("put", root.run("put", small, f"s3://{SHARED}/docs/hello.txt"))
        out = ok_run("ls", root.run("ls", f"s3://{SHARED}/docs/"))
        L.ok("ls lists the object", "docs/hello.txt" in out, out)
        got = os.path.join(work, "got.txt")
        ok_run("get", root.run("get", "--force", f"s3://{SHARED}/docs/hello.txt", got))
        L.ok("get: the bytes put", filecmp.cmp(small, got, shallow=False))

    with L.step("multipart put and sync"):
        ok_run(
            "put in 5 MiB parts",
            root.run("put", "--multipart-chunk-size-mb=5", big, f"s3://{SHARED}/big.bin"),
        )
        got = os.path.join(work, "big.got")
        ok_run("get the multipart object", root.run("get", "--force", f"s3://{SHARED}/big.bin", got))
        L.ok("multipart: the bytes put", filecmp.cmp(big, got, shallow=False))
        tree = os.path.join(work, "tree")
        os.makedirs(os.path.join(tree, "sub"))
        for rel in ("a.txt", "sub/b.txt"):
            with open(os.path.join(tree, rel), "w") as f:
                f.write(rel)
        ok_run("sync a directory up", root.run("sync", tree + "/", f"s3://{SHARED}/tree/"))
        back = os.path.join(work, "back")
        ok_run("sync it back down", root.run("sync", f"s3://{SHARED}/tree/", back + "/"))
        L.ok(
            "sync: the same tree",
            open(os.path.join(back, "sub/b.txt")).read() == "sub/b.txt"
            and open(os.path.join(back, "a.txt")).read() == "a.txt",
        )

    with L.step("ACLs refused on a bucket with ACLs disabled (the default)"):
        ok_run("mb (default ownership)", root.run("mb", f"s3://{DEFAULT}"))
        ok_run("put", root.run("put", small, f"s3://{DEFAULT}/hello.txt"))
        rc, out = root.run("setacl", "--acl-public", f"s3://{DEFAULT}/hello.txt")
        L.ok("setacl --acl-public: refused", rc != 0, out)
        L.ok("... with AccessControlListNotSupported", "AccessControlListNotSupported" in out, out)
        L.eq("... and the object stays private", anonymous_get(DEFAULT, "hello.txt")[0], 403)

    with L.step("ACLs on a bucket with ObjectWriter ownership"):
        admin.put_bucket_ownership_controls(
            Bucket=SHARED,
            OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]},
        )
        L.eq("anonymous GET before setacl: 403", anonymous_get(SHARED, "docs/hello.txt")[0], 403)
        ok_run("setacl --acl-public", root.run("setacl", "--acl-public", f"s3://{SHARED}/docs/hello.txt"))
        status, body = anonymous_get(SHARED, "docs/hello.txt")
        L.eq("anonymous GET after setacl --acl-public: 200", status, 200)
        L.eq("anonymous GET: the bytes", body, b"hello from s3cmd\n")
        out = ok_run("info", root.run("info", f"s3://{SHARED}/docs/hello.txt"))
        L.ok("info shows the public grant", "*anon*: READ" in out, out)
        ok_run("setacl --acl-private", root.run("setacl", "--acl-private", f"s3://{SHARED}/docs/hello.txt"))
        L.eq("anonymous GET after --acl-private: 403", anonymous_get(SHARED, "docs/hello.txt")[0], 403)

        rc, out = user2.run("get", "--force", f"s3://{SHARED}/docs/hello.txt", os.path.join(work, "u2.txt"))
        L.ok("another user cannot read it yet", rc != 0, out)
        ok_run(
            "setacl --acl-grant=read:<canonical id>",
            root.run("setacl", f"--acl-grant=read:{USER2_ID}", f"s3://{SHARED}/docs/hello.txt"),
        )
        ok_run(
            "the grantee reads it",
            user2.run("get", "--force", f"s3://{SHARED}/docs/hello.txt", os.path.join(work, "u2.txt")),
        )
        ok_run(
            "setacl --acl-revoke=read:<canonical id>",
            root.run("setacl", f"--acl-revoke=read:{USER2_ID}", f"s3://{SHARED}/docs/hello.txt"),
        )
        rc, out = user2.run("get", "--force", f"s3://{SHARED}/docs/hello.txt", os.path.join(work, "u2.txt"))
        L.ok("after the revoke it cannot", rc != 0, out)

        ok_run("put --acl-public", root.run("put", "--acl-public", small, f"s3://{SHARED}/pub/put.txt"))
        L.eq("anonymous GET of an object put public: 200", anonymous_get(SHARED, "pub/put.txt")[0], 200)
        ok_run(
            "multipart put --acl-public",
            root.run("put", "--acl-public", "--multipart-chunk-size-mb=5", big, f"s3://{SHARED}/pub/big.bin"),
        )
        status, body = anonymous_get(SHARED, "pub/big.bin")
        L.eq("anonymous GET of a multipart object put public: 200", status, 200)
        L.ok("... the bytes", body == open(big, "rb").read())
        ok_run("setacl --acl-public on the bucket", root.run("setacl", "--acl-public", f"s3://{SHARED}"))
        try:
            with urllib.request.urlopen(f"{ENDPOINT}/{SHARED}?list-type=2", timeout=30) as r:
                listing = r.read().decode()
            L.ok("anonymous listing of a public-read bucket", "pub/put.txt" in listing, listing[:300])
        except urllib.error.HTTPError as e:
            L.fail("anonymous listing of a public-read bucket", f"HTTP {e.code}")

    with L.step("cleanup"):
        ok_run("del --recursive", root.run("del", "--recursive", "--force", f"s3://{SHARED}"))
        ok_run("rb", root.run("rb", f"s3://{SHARED}"))
        ok_run("rb the default bucket", root.run("rb", "--recursive", "--force", f"s3://{DEFAULT}"))
    shutil.rmtree(work, ignore_errors=True)
    return L.finish()


if __name__ == "__main__":
    sys.exit(main())
