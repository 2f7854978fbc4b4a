#!/usr/bin/env python3
"""AWS CLI v2 (Debian's `awscli` package) lane for coffer: S3-to-S3 transfers.

Drives Debian's AWS CLI v2 (bookworm: 2.9.19) as a subprocess, by absolute path so
the compat venv's v1 `aws` is never picked up, configured only by environment
variables (empty temporary config and credentials files) and `--endpoint-url`.
Two buckets; uploads of two objects above the CLI's 8 MiB multipart threshold
(20 MiB, 9 MiB) and small ones with metadata and content types (two objects also
tagged); `aws s3 cp s3://a/x s3://b/y` (multipart UploadPartCopy for the large
one, CopyObject for the small), `aws s3 mv` (the source gone afterwards), `aws s3
sync s3://a/ s3://b/prefix/` (again: nothing copied; after a deletion,
`--delete`), everything in the second bucket downloaded with `aws s3 cp
--recursive` and compared by sha256 (and one object streamed with `aws s3 cp
s3://... -`), metadata, content type and tags of the copies read back with boto3,
`aws s3 rm --recursive` and `aws s3 rb`.

Environment as for boto3_lane.py (only the endpoint and the root credentials are
used); AWSCLI2 (optional) names the executable, default /usr/bin/aws.
"""

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile

from botocore.exceptions import ClientError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lanelib import Lane, env, read_tree, root_s3, sha  # noqa: E402

ENDPOINT = env("COFFER_ENDPOINT").rstrip("/")
ROOT_AK = env("COFFER_ACCESS_KEY_ID")
ROOT_SK = env("COFFER_SECRET_ACCESS_KEY")
RUN_ID = env("COFFER_COMPAT_RUN_ID", required=False) or secrets.token_hex(3)

L = Lane("awscli2")
A = f"compat-cli2-a-{RUN_ID}"
B = f"compat-cli2-b-{RUN_ID}"
TIMEOUT = 120  # per command; the harness gives the whole lane 300 s
MiB = 1024 * 1024


class Aws:
    def __init__(self, exe, work):
        self.exe = exe
        config = os.path.join(work, "config")
        creds = os.path.join(work, "credentials")
        for f in (config, creds):
            open(f, "w").close()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.env.update({
            "AWS_ACCESS_KEY_ID": ROOT_AK,
            "AWS_SECRET_ACCESS_KEY": ROOT_SK,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": config,
            "AWS_SHARED_CREDENTIALS_FILE": creds,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_PAGER": "",
            "AWS_MAX_ATTEMPTS": "2",
            "HOME": work,  # the CLI v2 caches under ~/.aws/cli
        })

    def run(self, *args, text=True, endpoint=True):
        """The finished process; a timeout comes back as exit -9 with what it printed."""
        cmd = [self.exe, *(["--endpoint-url", ENDPOINT] if endpoint else []), *args]
        try:
            p = subprocess.run(cmd, env=self.env, capture_output=True, text=text, timeout=TIMEOUT)
        except subprocess.TimeoutExpired as e:
            out = e.stdout or ("" if text else b"")
            err = e.stderr.decode("utf-8", "replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
            return subprocess.CompletedProcess(cmd, -9, out, f"{err}\n[timed out after {TIMEOUT} s]")
        except OSError as e:
            return subprocess.CompletedProcess(cmd, -1, "" if text else b"", f"[could not run: {e}]")
        if not text:
            p.stderr = p.stderr.decode("utf-8", "replace")
        return p


def ran_ok(check, p):
    return L.ok(check, p.returncode == 0, f"exit {p.returncode}; stderr: {p.stderr.strip()[-300:]}")


def main():
    exe = os.environ.get("AWSCLI2") or "/usr/bin/aws"
    if not os.access(exe, os.X_OK):
        L.fail("aws cli v2 installed", f"{exe} not found (compat/run.sh installs Debian's awscli)")
        return L.finish()
    work = tempfile.mkdtemp(prefix="coffer-awscli2-lane-")
    aws = Aws(exe, work)
    try:
        with L.step("awscli2 job"):
            job(aws, work)
    finally:
        p = aws.run("s3api", "list-buckets")
        names = [b["Name"] for b in json.loads(p.stdout).get("Buckets", [])] if p.returncode == 0 else []
        for b in (A, B):  # left behind only when the job stopped early
            if b in names:
                aws.run("s3", "rb", f"s3://{b}", "--force")
        shutil.rmtree(work, ignore_errors=True)
    return L.finish()


def job(aws, work):
    p = aws.run("--version", endpoint=False)
    version = (p.stdout or p.stderr).strip()
    ran_ok("aws --version", p)
    L.ok("aws --version: aws-cli/2", version.startswith("aws-cli/2."), f"got {version!r}")
    print(f"[awscli2] {version}", flush=True)
    # the CLI is what is tested; the results are read back with boto3 (each `aws` run costs ~0.6 s)
    s3 = root_s3(ENDPOINT, ROOT_AK, ROOT_SK)

    for b in (A, B):
        ran_ok(f"s3 mb {b}", aws.run("s3", "mb", f"s3://{b}"))
    p = aws.run("s3", "ls")
    if ran_ok("s3 ls (buckets)", p):
        names = p.stdout.split()
        L.ok("s3 ls: lists both buckets", A in names and B in names, f"stdout {p.stdout[-300:]!r}")

    # ---- uploads: two above the 8 MiB multipart threshold, small ones with metadata
    objects = {  # key: (bytes, extra `aws s3 cp` args, metadata, content type)
        "big/one.bin": (os.urandom(20 * MiB + 3), ["--metadata", "origin=big-one,tier=gold",
                                                   "--content-type", "application/x-big-one"],
                        {"origin": "big-one", "tier": "gold"}, "application/x-big-one"),
        "big/two.bin": (os.urandom(9 * MiB + 11), [], {}, None),
        "small/note.txt": (b"a small note\n" * 40, ["--metadata", "author=compat,purpose=copy-check",
                                                    "--content-type", "text/plain; charset=utf-8"],
                           {"author": "compat", "purpose": "copy-check"}, "text/plain; charset=utf-8"),
        "small/data.json": (json.dumps({"k": list(range(300))}).encode(), ["--content-type", "application/json"],
                            {}, "application/json"),
        "small/deep/x.bin": (os.urandom(70_001), ["--metadata", "kind=deep"], {"kind": "deep"}, None),
        "small/empty.txt": (b"", [], {}, None),
    }
    for key, (data, extra, _meta, _ctype) in objects.items():
        path = os.path.join(work, "up-" + key.replace("/", "_"))
        with open(path, "wb") as f:
            f.write(data)
        ran_ok(f"s3 cp upload {key} ({len(data)} bytes)", aws.run("s3", "cp", path, f"s3://{A}/{key}", *extra))

    def head(check, bucket, key):
        try:
            return s3.head_object(Bucket=bucket, Key=key)
        except ClientError as e:
            L.fail(check, f"head-object {bucket}/{key}: {e}")
            return None

    def props(check, bucket, key, want_key):
        """Metadata and content type of bucket/key equal those uploaded for want_key."""
        _data, _extra, meta, ctype = objects[want_key]
        h = head(check, bucket, key)
        if h is not None:
            L.eq(f"{check}: Metadata", h.get("Metadata"), meta)
            if ctype:
                L.eq(f"{check}: ContentType", h.get("ContentType"), ctype)
        return h

    def multipart_etag(check, h):
        etag = (h or {}).get("ETag", "").strip('"')
        L.ok(check, "-" in etag, f"ETag {etag!r}")

    for key in ("big/one.bin", "big/two.bin"):
        h = head(f"upload {key}: head-object", A, key)
        if h is not None:
            multipart_etag(f"upload {key}: multipart ETag (-N suffix)", h)
            L.eq(f"upload {key}: ContentLength", h.get("ContentLength"), len(objects[key][0]))
    props("upload small/note.txt", A, "small/note.txt", "small/note.txt")

    tags = [{"Key": "project", "Value": "coffer"}, {"Key": "lane", "Value": "awscli2"}]
    want_tags = sorted((t["Key"], t["Value"]) for t in tags)
    for key in ("big/one.bin", "small/note.txt"):
        s3.put_object_tagging(Bucket=A, Key=key, Tagging={"TagSet": tags})

    def tag_set(bucket, key):
        try:
            return sorted((t["Key"], t["Value"]) for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"])
        except ClientError as e:
            return str(e)

    # ---- S3-to-S3 cp: multipart UploadPartCopy for the large object, CopyObject for the small
    for key in ("big/one.bin", "small/note.txt"):
        dst = f"copied/{key}"
        p = aws.run("s3", "cp", f"s3://{A}/{key}", f"s3://{B}/{dst}")
        ran_ok(f"s3 cp s3://a/{key} s3://b/{dst}", p)
        L.ok(f"s3 cp s3->s3 {key}: output says copy", f"copy: s3://{A}/{key} to s3://{B}/{dst}" in p.stdout,
             f"stdout {p.stdout[-300:]!r}")
        h = props(f"s3 cp s3->s3 {key}: metadata and content type kept", B, dst, key)
        if key.startswith("big/"):
            multipart_etag(f"s3 cp s3->s3 {key}: copied by multipart copy (-N ETag)", h)
        L.eq(f"s3 cp s3->s3 {key}: tags kept", tag_set(B, dst), want_tags)

    # ---- mv: large and small; the source is gone afterwards
    for key in ("big/two.bin", "small/data.json"):
        dst = f"moved/{key}"
        ran_ok(f"s3 mv s3://a/{key} s3://b/{dst}", aws.run("s3", "mv", f"s3://{A}/{key}", f"s3://{B}/{dst}"))
        props(f"s3 mv {key}: content type and metadata kept", B, dst, key)
        try:
            s3.head_object(Bucket=A, Key=key)
            L.fail(f"s3 mv {key}: source gone (head-object 404)", "the source still exists")
        except ClientError as e:
            L.eq(f"s3 mv {key}: source gone (head-object 404)",
                 e.response.get("ResponseMetadata", {}).get("HTTPStatusCode"), 404)
    moved = {"big/two.bin", "small/data.json"}

    # ---- sync bucket a into a prefix of bucket b
    remaining = sorted(k for k in objects if k not in moved)
    p = aws.run("s3", "sync", f"s3://{A}/", f"s3://{B}/prefix/")
    ran_ok("s3 sync s3://a/ s3://b/prefix/", p)
    copied = sorted(ln.split(" to ")[0][len(f"copy: s3://{A}/"):] for ln in p.stdout.splitlines()
                    if ln.startswith(f"copy: s3://{A}/"))
    L.eq("s3 sync s3->s3: copied every object of a", copied, remaining)
    props("s3 sync s3->s3 small/note.txt: metadata and content type kept", B, "prefix/small/note.txt",
          "small/note.txt")
    props("s3 sync s3->s3 big/one.bin: metadata and content type kept", B, "prefix/big/one.bin", "big/one.bin")
    p = aws.run("s3", "sync", f"s3://{A}/", f"s3://{B}/prefix/")
    ran_ok("s3 sync s3->s3 again", p)
    L.eq("s3 sync s3->s3 again: nothing copied", p.stdout.strip(), "")

    # a deletion in a, then sync --delete removes it under the prefix
    ran_ok("s3 rm one object of a", aws.run("s3", "rm", f"s3://{A}/small/deep/x.bin"))
    p = aws.run("s3", "sync", "--delete", f"s3://{A}/", f"s3://{B}/prefix/")
    ran_ok("s3 sync --delete s3->s3", p)
    L.eq("s3 sync --delete: deleted only the object gone from a",
         [ln for ln in p.stdout.splitlines() if ln.strip()], [f"delete: s3://{B}/prefix/small/deep/x.bin"])

    # ---- every result downloaded and compared by sha256
    want = {f"copied/{k}": objects[k][0] for k in ("big/one.bin", "small/note.txt")}
    want.update({f"moved/{k}": objects[k][0] for k in moved})
    want.update({f"prefix/{k}": objects[k][0] for k in remaining if k != "small/deep/x.bin"})
    down = os.path.join(work, "down")
    ran_ok("s3 cp --recursive s3://b/ (download everything)", aws.run("s3", "cp", "--recursive", f"s3://{B}/", down))
    got = read_tree(down)
    L.eq("bucket b: keys present", sorted(got), sorted(want))
    for key in sorted(want):
        L.eq(f"bucket b {key}: bytes equal (sha256)", got.get(key), sha(want[key]))
    p = aws.run("s3", "cp", f"s3://{A}/big/one.bin", "-", text=False)
    if ran_ok("s3 cp s3://a/big/one.bin - (to stdout)", p):
        L.eq("s3 cp to stdout: copy source untouched (sha256)", sha(p.stdout), sha(objects["big/one.bin"][0]))

    # ---- rm --recursive, rb
    for b in (A, B):
        present = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=b).get("Contents", []))
        p = aws.run("s3", "rm", "--recursive", f"s3://{b}/")
        ran_ok(f"s3 rm --recursive {b}", p)
        prefix = f"delete: s3://{b}/"
        deleted = sorted(ln[len(prefix):] for ln in p.stdout.splitlines() if ln.startswith(prefix))
        L.ok(f"s3 rm --recursive {b}: deleted exactly the listed keys", deleted == present and present,
             f"deleted {deleted}, listed {present}")
        L.eq(f"s3 rm --recursive {b}: bucket empty", s3.list_objects_v2(Bucket=b).get("KeyCount"), 0)
        p = aws.run("s3", "rb", f"s3://{b}")
        ran_ok(f"s3 rb {b}", p)
        L.ok(f"s3 rb {b}: output names the bucket", f"remove_bucket: {b}" in p.stdout, f"stdout {p.stdout!r}")
    names = [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
    L.ok("after rb: both buckets gone", A not in names and B not in names, f"got {names}")


if __name__ == "__main__":
    sys.exit(main())
