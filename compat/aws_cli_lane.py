#!/usr/bin/env python3
"""AWS CLI (v1, from the compat venv) lane for coffer.

Drives the `aws` command as a subprocess. Environment as for boto3_lane.py
(COMPAT_KMS_KEY: the key service's key for `--sse aws:kms --sse-kms-key-id`);
AWS_CLI (optional) names the aws executable, default: `aws` next to this
Python interpreter, else on PATH.
"""

import base64
import filecmp
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lanelib import Lane, env  # noqa: E402

ENDPOINT = env("COFFER_ENDPOINT").rstrip("/")
ROOT_AK = env("COFFER_ACCESS_KEY_ID")
ROOT_SK = env("COFFER_SECRET_ACCESS_KEY")
RUN_ID = env("COFFER_COMPAT_RUN_ID", required=False) or secrets.token_hex(3)
KMS_KEY = env("COMPAT_KMS_KEY", required=False) or ""

L = Lane("awscli")
BUCKET = f"compat-cli-{RUN_ID}"
MISSING_BUCKET = f"compat-cli-missing-{RUN_ID}"


def find_aws():
    explicit = os.environ.get("AWS_CLI")
    if explicit:
        return explicit
    beside = os.path.join(os.path.dirname(sys.executable), "aws")
    if os.path.exists(beside):
        return beside
    found = shutil.which("aws")
    if not found:
        print("aws CLI not found", file=sys.stderr)
        sys.exit(2)
    return found


AWS = find_aws()


class Aws:
    def __init__(self, workdir):
        self.config = os.path.join(workdir, "aws-config")
        with open(self.config, "w") as f:
            f.write(
                "[default]\n"
                "region = us-east-1\n"
                "output = json\n"
                "retry_mode = standard\n"
                "max_attempts = 2\n"
                "s3 =\n"
                "    addressing_style = path\n"
            )
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.env.update({
            "AWS_ACCESS_KEY_ID": ROOT_AK,
            "AWS_SECRET_ACCESS_KEY": ROOT_SK,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": self.config,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_PAGER": "",
        })

    def run(self, *args, timeout=120, text=True):
        """text=False: stdout as bytes (stderr is still decoded)."""
        cmd = [AWS, "--endpoint-url", ENDPOINT, *args]
        p = subprocess.run(cmd, env=self.env, capture_output=True, text=text, timeout=timeout)
        if not text:
            p.stderr = p.stderr.decode("utf-8", "replace")
        return p


def ran_ok(check, p):
    return L.ok(check, p.returncode == 0, f"exit {p.returncode}; stderr: {p.stderr.strip()[-300:]}")


def expect_cli_error(check, p, code):
    """The CLI prints `An error occurred (Code) when calling the Op operation: Message`."""
    L.ok(f"{check}: non-zero exit", p.returncode != 0, f"exit {p.returncode}; stdout {p.stdout[:200]!r}")
    L.ok(f"{check}: stderr names ({code})", f"({code})" in p.stderr, f"stderr: {p.stderr.strip()[-300:]!r}")


def tree_files(root):
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            with open(full, "rb") as f:
                out[rel] = hashlib.sha256(f.read()).hexdigest()
    return out


def main():
    work = tempfile.mkdtemp(prefix="coffer-cli-lane-")
    try:
        aws = Aws(work)
        run_lane(aws, work)
        website_lane(aws, work)
        encryption_lane(aws, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return L.finish()


def run_lane(aws, work):
    p = aws.run("s3", "mb", f"s3://{BUCKET}")
    ran_ok("s3 mb", p)
    L.ok("s3 mb: output names the bucket", f"make_bucket: {BUCKET}" in p.stdout, f"stdout {p.stdout!r}")

    p = aws.run("s3", "ls")
    ran_ok("s3 ls (buckets)", p)
    L.ok("s3 ls (buckets): lists the new bucket", BUCKET in p.stdout.split(), f"stdout {p.stdout!r}")

    # a few-MiB single-part file and a 100 MiB one, far above the CLI's 8 MiB multipart threshold
    files = {}
    for name, size in (("small.bin", 3 * 1024 * 1024 + 17), ("large.bin", 100 * 1024 * 1024 + 5)):
        path = os.path.join(work, name)
        with open(path, "wb") as f:
            f.write(os.urandom(size))
        files[name] = (path, size)

    for name, (path, size) in files.items():
        p = aws.run("s3", "cp", path, f"s3://{BUCKET}/up/{name}")
        ran_ok(f"s3 cp upload {name}", p)
        down = os.path.join(work, "down-" + name)
        p = aws.run("s3", "cp", f"s3://{BUCKET}/up/{name}", down)
        ran_ok(f"s3 cp download {name}", p)
        L.ok(f"s3 cp round trip {name}: bytes equal",
             os.path.exists(down) and filecmp.cmp(path, down, shallow=False), "downloaded file differs or missing")

        p = aws.run("s3api", "head-object", "--bucket", BUCKET, "--key", f"up/{name}")
        if ran_ok(f"s3api head-object {name}", p):
            try:
                head = json.loads(p.stdout)
            except ValueError:
                head = {}
            L.eq(f"s3api head-object {name}: ContentLength", head.get("ContentLength"), size)
            etag = (head.get("ETag") or "").strip('"')
            if name == "small.bin":
                with open(path, "rb") as f:
                    L.eq(f"s3api head-object {name}: ETag is MD5", etag, hashlib.md5(f.read()).hexdigest())
            else:
                L.ok(f"s3api head-object {name}: multipart ETag has -N suffix", "-" in etag, f"ETag {etag!r}")

    p = aws.run("s3", "ls", f"s3://{BUCKET}/up/")
    ran_ok("s3 ls prefix", p)
    listed = {}
    for line in p.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4:
            listed[parts[3]] = int(parts[2])
    L.eq("s3 ls prefix: names and sizes", listed, {n: s for n, (_p, s) in files.items()})

    p = aws.run("s3", "ls", f"s3://{BUCKET}/")
    ran_ok("s3 ls bucket root", p)
    L.ok("s3 ls bucket root: shows PRE up/", "PRE up/" in p.stdout, f"stdout {p.stdout!r}")

    # sync a small tree up, down, and check the second sync is a no-op
    src = os.path.join(work, "tree")
    for rel, data in (("a.txt", b"alpha\n"), ("sub/b.txt", b"bravo\n" * 100),
                      ("sub/deeper/c.bin", os.urandom(70000)), ("empty.txt", b"")):
        full = os.path.join(src, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)
        # sync re-uploads a local file newer than the object's LastModified
        # (which has 1 s resolution); backdate so only real differences count
        old = os.stat(full).st_mtime - 3600
        os.utime(full, (old, old))
    p = aws.run("s3", "sync", src, f"s3://{BUCKET}/tree/")
    ran_ok("s3 sync up", p)
    p = aws.run("s3", "ls", "--recursive", f"s3://{BUCKET}/tree/")
    ran_ok("s3 ls --recursive tree", p)
    keys = sorted(line.split()[-1] for line in p.stdout.splitlines() if line.strip())
    L.eq("s3 sync up: uploaded keys", keys,
         sorted(["tree/a.txt", "tree/sub/b.txt", "tree/sub/deeper/c.bin", "tree/empty.txt"]))
    p = aws.run("s3", "sync", src, f"s3://{BUCKET}/tree/")
    ran_ok("s3 sync up again", p)
    L.eq("s3 sync up again: nothing to transfer", p.stdout.strip(), "")

    dst = os.path.join(work, "tree-down")
    p = aws.run("s3", "sync", f"s3://{BUCKET}/tree/", dst)
    ran_ok("s3 sync down", p)
    L.eq("s3 sync down: tree identical", tree_files(dst), tree_files(src))

    # a new remote object is the only thing the next sync down fetches
    extra = os.path.join(work, "extra.txt")
    with open(extra, "wb") as f:
        f.write(b"extra\n")
    ran_ok("s3 cp extra object", aws.run("s3", "cp", extra, f"s3://{BUCKET}/tree/sub/extra.txt"))
    p = aws.run("s3", "sync", f"s3://{BUCKET}/tree/", dst)
    ran_ok("s3 sync down incremental", p)
    downloads = [line for line in p.stdout.splitlines() if line.startswith("download:")]
    L.ok("s3 sync down incremental: only the new object",
         len(downloads) == 1 and "sub/extra.txt" in downloads[0], f"stdout {p.stdout!r}")

    # error codes through the CLI
    p = aws.run("s3api", "get-object", "--bucket", BUCKET, "--key", "does/not/exist",
                os.path.join(work, "never"))
    expect_cli_error("s3api get-object missing key", p, "NoSuchKey")
    p = aws.run("s3api", "list-objects-v2", "--bucket", MISSING_BUCKET)
    expect_cli_error("s3api list-objects-v2 missing bucket", p, "NoSuchBucket")
    p = aws.run("s3", "ls", f"s3://{MISSING_BUCKET}/")
    expect_cli_error("s3 ls missing bucket", p, "NoSuchBucket")
    p = aws.run("s3api", "delete-bucket", "--bucket", BUCKET)
    expect_cli_error("s3api delete-bucket non-empty", p, "BucketNotEmpty")

    # a bucket policy that makes up/ public, read back, then read by anonymous curl
    bucket_policy(aws, work, files)

    # rm --recursive, then rb
    p = aws.run("s3api", "list-objects-v2", "--bucket", BUCKET)
    present = []
    if ran_ok("s3api list-objects-v2 before rm", p):
        present = sorted(o["Key"] for o in json.loads(p.stdout or "{}").get("Contents", []))
        L.ok("before rm: bucket has objects", len(present) >= 5, f"got {present}")
    p = aws.run("s3", "rm", "--recursive", f"s3://{BUCKET}/")
    ran_ok("s3 rm --recursive", p)
    prefix = f"delete: s3://{BUCKET}/"
    deleted = sorted(ln[len(prefix):] for ln in p.stdout.splitlines() if ln.startswith(prefix))
    L.eq("s3 rm --recursive: deleted exactly the listed keys", deleted, present)
    p = aws.run("s3api", "list-objects-v2", "--bucket", BUCKET)
    if ran_ok("s3api list-objects-v2 after rm", p):
        body = json.loads(p.stdout) if p.stdout.strip() else {}
        L.eq("after rm: bucket empty", body.get("Contents", []), [])
    p = aws.run("s3", "rb", f"s3://{BUCKET}")
    ran_ok("s3 rb", p)
    L.ok("s3 rb: output names the bucket", f"remove_bucket: {BUCKET}" in p.stdout, f"stdout {p.stdout!r}")
    p = aws.run("s3api", "list-buckets")
    if ran_ok("s3api list-buckets after rb", p):
        names = [b["Name"] for b in json.loads(p.stdout).get("Buckets", [])]
        L.ok("after rb: bucket gone", BUCKET not in names, f"got {names}")
    p = aws.run("s3", "rb", f"s3://{BUCKET}")
    expect_cli_error("s3 rb twice", p, "NoSuchBucket")


def curl(url, out):
    """An anonymous GET with curl; returns the HTTP status."""
    p = subprocess.run(["curl", "-s", "-o", out, "-w", "%{http_code}", url],
                       capture_output=True, text=True, timeout=120)
    return int(p.stdout or 0)


def bucket_policy(aws, work, files):
    path, _ = files["small.bin"]
    public = f"{ENDPOINT}/{BUCKET}/up/small.bin"
    got = os.path.join(work, "curl-small.bin")
    L.eq("curl anonymous GET before a policy: 403", curl(public, got), 403)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "PublicUp", "Effect": "Allow", "Principal": "*",
            "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/up/*",
        }],
    }
    policy_file = os.path.join(work, "policy.json")
    with open(policy_file, "w") as f:
        json.dump(policy, f)
    ran_ok("s3api put-bucket-policy", aws.run("s3api", "put-bucket-policy", "--bucket", BUCKET,
                                              "--policy", f"file://{policy_file}"))
    p = aws.run("s3api", "get-bucket-policy", "--bucket", BUCKET)
    if ran_ok("s3api get-bucket-policy", p):
        L.eq("get-bucket-policy: the policy put", json.loads(json.loads(p.stdout)["Policy"]), policy)
    p = aws.run("s3api", "get-bucket-policy-status", "--bucket", BUCKET)
    if ran_ok("s3api get-bucket-policy-status", p):
        L.eq("get-bucket-policy-status: public", json.loads(p.stdout)["PolicyStatus"]["IsPublic"], True)
    L.eq("curl anonymous GET of a public object: 200", curl(public, got), 200)
    L.ok("curl anonymous GET: bytes equal", filecmp.cmp(path, got, shallow=False), "curl's body differs")
    outside = os.path.join(work, "curl-outside")
    L.eq("curl anonymous GET outside the public prefix: 403",
         curl(f"{ENDPOINT}/{BUCKET}/tree/a.txt", outside), 403)
    bad = os.path.join(work, "bad-policy.json")
    with open(bad, "w") as f:
        json.dump({**policy, "Statement": [{**policy["Statement"][0], "Action": "s3:Teleport"}]}, f)
    p = aws.run("s3api", "put-bucket-policy", "--bucket", BUCKET, "--policy", f"file://{bad}")
    expect_cli_error("s3api put-bucket-policy with an unknown action", p, "MalformedPolicy")
    ran_ok("s3api delete-bucket-policy", aws.run("s3api", "delete-bucket-policy", "--bucket", BUCKET))
    L.eq("curl anonymous GET after delete-bucket-policy: 403", curl(public, got), 403)
    p = aws.run("s3api", "get-bucket-policy", "--bucket", BUCKET)
    expect_cli_error("s3api get-bucket-policy after delete", p, "NoSuchBucketPolicy")


def encryption_lane(aws, work):
    """SSE-S3, SSE-KMS and SSE-C through `aws s3 cp`, and a bucket's default encryption
    through `aws s3api put/get/delete-bucket-encryption`."""
    b = f"compat-cli-sse-{RUN_ID}"
    kms_arn = f"arn:aws:kms:us-east-1:000000000000:key/{KMS_KEY}"
    if not KMS_KEY:
        L.fail("COMPAT_KMS_KEY set", "no KMS key name given; the checks with a named key fail")
    ran_ok("sse: s3 mb", aws.run("s3", "mb", f"s3://{b}"))
    small = os.path.join(work, "sse-small.bin")
    with open(small, "wb") as f:
        f.write(os.urandom(300 * 1024 + 5))
    big = os.path.join(work, "sse-big.bin")  # above the CLI's 8 MiB multipart threshold
    with open(big, "wb") as f:
        f.write(os.urandom(9 * 1024 * 1024 + 3))
    keyfile = os.path.join(work, "sse-c.key")
    key = os.urandom(32)
    with open(keyfile, "wb") as f:
        f.write(key)
    key_md5 = base64.b64encode(hashlib.md5(key).digest()).decode()
    sse_c = ["--sse-c", "AES256", "--sse-c-key", f"fileb://{keyfile}"]
    api_sse_c = ["--sse-customer-algorithm", "AES256", "--sse-customer-key", f"fileb://{keyfile}"]

    def head(check, name, *extra):
        p = aws.run("s3api", "head-object", "--bucket", b, "--key", name, *extra)
        return json.loads(p.stdout) if ran_ok(check, p) else {}

    def round_trip(check, name, *extra):
        down = os.path.join(work, "down-" + name)
        ran_ok(f"{check}: s3 cp download", aws.run("s3", "cp", f"s3://{b}/{name}", down, *extra))
        src = big if name.startswith("big") else small
        L.ok(f"{check}: bytes equal", os.path.exists(down) and filecmp.cmp(src, down, shallow=False),
             "downloaded file differs or missing")

    # SSE-S3, single part and multipart
    for name, src in (("small-s3.bin", small), ("big-s3.bin", big)):
        ran_ok(f"s3 cp --sse AES256 ({name})", aws.run("s3", "cp", src, f"s3://{b}/{name}", "--sse", "AES256"))
        h = head(f"s3api head-object ({name})", name)
        L.eq(f"head-object ({name}): ServerSideEncryption", h.get("ServerSideEncryption"), "AES256")
        etag = (h.get("ETag") or "").strip('"')
        if src == small:
            with open(small, "rb") as f:
                L.eq(f"head-object ({name}): ETag is MD5", etag, hashlib.md5(f.read()).hexdigest())
        else:
            L.ok(f"head-object ({name}): multipart ETag has -2", etag.endswith("-2"), f"ETag {etag!r}")
        round_trip(f"SSE-S3 {name}", name)

    # SSE-KMS, single part and multipart
    for name, src in (("small-kms.bin", small), ("big-kms.bin", big)):
        ran_ok(f"s3 cp --sse aws:kms --sse-kms-key-id {KMS_KEY} ({name})",
               aws.run("s3", "cp", src, f"s3://{b}/{name}", "--sse", "aws:kms", "--sse-kms-key-id", KMS_KEY))
        h = head(f"s3api head-object ({name})", name)
        L.eq(f"head-object ({name}): ServerSideEncryption, SSEKMSKeyId",
             (h.get("ServerSideEncryption"), h.get("SSEKMSKeyId")), ("aws:kms", kms_arn))
        round_trip(f"SSE-KMS {name}", name)
    p = aws.run("s3", "cp", small, f"s3://{b}/bad-kms.bin", "--sse", "aws:kms",
                "--sse-kms-key-id", f"compat-no-such-key-{RUN_ID}")
    expect_cli_error("s3 cp --sse aws:kms with an unknown key", p, "KMS.NotFoundException")

    # SSE-C, single part and multipart
    for name, src in (("small-c.bin", small), ("big-c.bin", big)):
        ran_ok(f"s3 cp --sse-c AES256 --sse-c-key fileb:// ({name})",
               aws.run("s3", "cp", src, f"s3://{b}/{name}", *sse_c))
        h = head(f"s3api head-object --sse-customer-key ({name})", name, *api_sse_c)
        L.eq(f"head-object ({name}): SSECustomerAlgorithm, SSECustomerKeyMD5",
             (h.get("SSECustomerAlgorithm"), h.get("SSECustomerKeyMD5")), ("AES256", key_md5))
        round_trip(f"SSE-C {name}", name, *sse_c)
    h = head("s3api head-object (SSE-C multipart) ETag", "big-c.bin", *api_sse_c)
    L.ok("head-object (SSE-C multipart): ETag has -2", (h.get("ETag") or "").strip('"').endswith("-2"),
         f"ETag {h.get('ETag')!r}")
    p = aws.run("s3", "cp", f"s3://{b}/small-c.bin", "-", *sse_c, text=False)
    ran_ok("s3 cp SSE-C object to stdout with --sse-c-key", p)
    with open(small, "rb") as f:
        L.ok("s3 cp SSE-C object to stdout: bytes equal", p.stdout == f.read(),
             f"got {len(p.stdout)} bytes")
    p = aws.run("s3", "cp", f"s3://{b}/small-c.bin", os.path.join(work, "never-c"))
    expect_cli_error("s3 cp SSE-C object without --sse-c-key", p, "400")
    p = aws.run("s3api", "get-object", "--bucket", b, "--key", "small-c.bin", os.path.join(work, "never-c"))
    expect_cli_error("s3api get-object SSE-C object without its key", p, "InvalidRequest")

    # copy an SSE-C object to SSE-S3
    ran_ok("s3 cp s3->s3 --sse-c-copy-source ... --sse AES256",
           aws.run("s3", "cp", f"s3://{b}/small-c.bin", f"s3://{b}/small-c-to-s3.bin", "--sse-c-copy-source", "AES256",
                   "--sse-c-copy-source-key", f"fileb://{keyfile}", "--sse", "AES256"))
    h = head("s3api head-object (copy SSE-C -> SSE-S3)", "small-c-to-s3.bin")
    L.eq("head-object (copy SSE-C -> SSE-S3): ServerSideEncryption", h.get("ServerSideEncryption"), "AES256")
    round_trip("copy SSE-C -> SSE-S3", "small-c-to-s3.bin")

    # bucket default encryption
    p = aws.run("s3api", "get-bucket-encryption", "--bucket", b)
    expect_cli_error("s3api get-bucket-encryption, none set", p, "ServerSideEncryptionConfigurationNotFoundError")
    conf = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KMS_KEY},
                       "BucketKeyEnabled": True}]}
    ran_ok("s3api put-bucket-encryption aws:kms",
           aws.run("s3api", "put-bucket-encryption", "--bucket", b,
                   "--server-side-encryption-configuration", json.dumps(conf)))
    p = aws.run("s3api", "get-bucket-encryption", "--bucket", b)
    if ran_ok("s3api get-bucket-encryption", p):
        L.eq("get-bucket-encryption: the configuration put",
             json.loads(p.stdout).get("ServerSideEncryptionConfiguration"), conf)
    ran_ok("s3 cp into a default-KMS bucket", aws.run("s3", "cp", small, f"s3://{b}/small-default.bin"))
    h = head("s3api head-object (bucket default aws:kms)", "small-default.bin")
    L.eq("head-object (bucket default aws:kms): ServerSideEncryption, SSEKMSKeyId, BucketKeyEnabled",
         (h.get("ServerSideEncryption"), h.get("SSEKMSKeyId"), h.get("BucketKeyEnabled")), ("aws:kms", kms_arn, True))
    round_trip("bucket default aws:kms", "small-default.bin")
    ran_ok("s3api delete-bucket-encryption", aws.run("s3api", "delete-bucket-encryption", "--bucket", b))
    p = aws.run("s3api", "get-bucket-encryption", "--bucket", b)
    expect_cli_error("s3api get-bucket-encryption after delete", p, "ServerSideEncryptionConfigurationNotFoundError")

    ran_ok("sse: s3 rb --force", aws.run("s3", "rb", f"s3://{b}", "--force"))


def website_lane(aws, work):
    """`aws s3 website` on a public bucket, then its website endpoint
    (`<bucket>.web.localhost`, which the harness's server serves) read with curl."""
    site = f"compat-cli-site-{RUN_ID}"
    ran_ok("website: s3 mb", aws.run("s3", "mb", f"s3://{site}"))
    pages = {"index.html": "<h1>home</h1>", "docs/index.html": "<h1>docs</h1>", "404.html": "<h1>lost</h1>"}
    root = os.path.join(work, "site")
    for rel, html in pages.items():
        os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
        with open(os.path.join(root, rel), "w") as f:
            f.write(html)
    ran_ok("website: s3 sync the pages", aws.run("s3", "sync", root, f"s3://{site}/"))
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
              "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{site}/*"}]}
    policy_file = os.path.join(work, "site-policy.json")
    with open(policy_file, "w") as f:
        json.dump(policy, f)
    ran_ok("website: public-read policy", aws.run("s3api", "put-bucket-policy", "--bucket", site,
                                                  "--policy", f"file://{policy_file}"))
    ran_ok("s3 website", aws.run("s3", "website", f"s3://{site}", "--index-document", "index.html",
                                 "--error-document", "404.html"))
    p = aws.run("s3api", "get-bucket-website", "--bucket", site)
    if ran_ok("s3api get-bucket-website", p):
        L.eq("get-bucket-website: the index suffix", json.loads(p.stdout)["IndexDocument"]["Suffix"], "index.html")
    port = ENDPOINT.rsplit(":", 1)[1]
    host = f"{site}.web.localhost"

    def visit(path):
        out = os.path.join(work, "page")
        p = subprocess.run(["curl", "-s", "--resolve", f"{host}:{port}:127.0.0.1", "-o", out,
                            "-w", "%{http_code} %{redirect_url}", f"http://{host}:{port}{path}"],
                           capture_output=True, text=True, timeout=60)
        status, _, location = p.stdout.partition(" ")
        with open(out) as f:
            return int(status or 0), location, f.read()

    L.eq("curl the site's root: its index page", visit("/")[::2], (200, "<h1>home</h1>"))
    L.eq("curl a folder: its index page", visit("/docs/")[::2], (200, "<h1>docs</h1>"))
    status, location, _ = visit("/docs")
    L.eq("curl a folder without its slash: redirected to it", (status, location.endswith("/docs/")), (302, True))
    L.eq("curl a missing page: the error document with 404", visit("/nothing.html")[::2], (404, "<h1>lost</h1>"))
    ran_ok("website: s3 rb --force", aws.run("s3", "rb", f"s3://{site}", "--force"))


if __name__ == "__main__":
    sys.exit(main())
