#!/usr/bin/env python3
"""s3cmd lane for coffer: the s3cmd command (from the compat venv) as its users run it, over
plain HTTP with SigV4, twice: path style (`host_bucket` = the endpoint) and virtual-hosted
style (`host_bucket = %(bucket)s.localhost:PORT`, the server's default domain). Each pass:
buckets, objects, multipart, sync, `info` of a bucket and an object (with no request
answered 501), the bucket settings s3cmd manages (`setversioning`, `setownership`,
`setblockpublicaccess`, `setpolicy`, `setcors`, `expire`, `settagging`, and their `del`s)
read back by `info` and `get*`, `signurl`, `modify`, and sharing with ACLs
(`setacl --acl-public`, `--acl-grant`, `put --acl-public`), checked with unsigned requests as
a browser or curl would send them.

ACLs need a bucket with ACLs enabled, as on AWS, where new buckets have them disabled: the
lane turns them on with `s3cmd setownership`, and checks that on a bucket left at the
default s3cmd's ACL change is refused with AWS's code.

Python does not resolve `bucket.localhost` (glibc leaves RFC 6761 names to nss-myhostname),
so the virtual-hosted pass runs s3cmd through `localhost_dns.py`, which resolves
`*.localhost` to loopback and logs each name; the lane checks the bucket's host name was
the one resolved.

Environment as for boto3_lane.py; S3CMD (optional) names the s3cmd executable, default:
`s3cmd` next to this Python interpreter, else on PATH.
"""

import filecmp
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import localhost_dns  # noqa: E402,F401  (this process reads signed URLs of <bucket>.localhost)
from lanelib import Lane, env, root_s3  # noqa: E402

ENDPOINT = env("COFFER_ENDPOINT").rstrip("/")
ROOT_AK = env("COFFER_ACCESS_KEY_ID")
ROOT_SK = env("COFFER_SECRET_ACCESS_KEY")
USER2_AK = env("COFFER_USER2_ACCESS_KEY_ID")
USER2_SK = env("COFFER_USER2_SECRET_ACCESS_KEY")
USER2_ID = env("COFFER_USER2_CANONICAL_ID")
RUN_ID = env("COFFER_COMPAT_RUN_ID", required=False) or secrets.token_hex(3)

L = Lane("s3cmd")
SHIM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "localhost_dns.py")


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
    """s3cmd with its own config file, as `s3cmd --configure` would write it; `virtual`
    addresses buckets as `<bucket>.localhost:PORT`."""

    def __init__(self, workdir, name, ak, sk, virtual=False):
        host = urllib.parse.urlparse(ENDPOINT).netloc
        port = urllib.parse.urlparse(ENDPOINT).port
        base, bucket_host = (f"localhost:{port}", f"%(bucket)s.localhost:{port}") if virtual else (host, host)
        self.virtual = virtual
        self.dns_log = os.path.join(workdir, f"dns-{name}.log")
        self.config = os.path.join(workdir, f"s3cfg-{name}")
        with open(self.config, "w") as f:
            f.write(
                "[default]\n"
                f"access_key = {ak}\n"
                f"secret_key = {sk}\n"
                f"host_base = {base}\n"
                f"host_bucket = {bucket_host}\n"
                "use_https = False\n"
                "signature_v2 = False\n"
                "bucket_location = us-east-1\n"
                "check_ssl_certificate = False\n"
                "progress_meter = False\n"
            )

    def run(self, *args):
        cmd = [S3CMD, "-c", self.config, "--no-mime-magic", *args]
        if self.virtual:
            cmd = [sys.executable, SHIM, *cmd]
        p = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=120,
            env=dict(os.environ, LOCALHOST_DNS_LOG=self.dns_log),
        )
        return p.returncode, p.stdout + p.stderr

    def resolved(self):
        """The `*.localhost` names s3cmd looked up (virtual-hosted style only)."""
        try:
            with open(self.dns_log) as f:
                return set(f.read().split())
        except FileNotFoundError:
            return set()


ADMIN = root_s3(ENDPOINT, ROOT_AK, ROOT_SK)


def fetch(url):
    """An unsigned GET of `url`, as a browser or curl would send it."""
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def anonymous_get(bucket, key):
    return fetch(f"{ENDPOINT}/{bucket}/{urllib.parse.quote(key)}")


def ok_run(check, result):
    rc, out = result
    L.ok(check, rc == 0, f"exit {rc}: {out[-300:]}")
    return out


def info_of(s3c, target):
    """`s3cmd info` with --debug: its printed fields, and the statuses of the requests it made
    (s3cmd prints "none" for a setting whose request failed, hiding the error)."""
    rc, out = s3c.run("--debug", "info", target)
    fields = {}
    for line in out.splitlines():
        if line.startswith("   ") and ":" in line and not line.startswith("    "):
            k, _, v = line.strip().partition(":")
            fields.setdefault(k.strip(), v.strip())
    statuses = [int(x) for x in re.findall(r"'status': (\d+)", out)]
    return rc, fields, statuses, out


def one_pass(style, work, small, big):
    virtual = style == "virtual"
    shared = f"compat-s3cmd-{style}-{RUN_ID}"
    default = f"compat-s3cmd-{style}-enforced-{RUN_ID}"
    root = S3cmd(work, f"root-{style}", ROOT_AK, ROOT_SK, virtual)
    user2 = S3cmd(work, f"user2-{style}", USER2_AK, USER2_SK, virtual)
    c = f"[{style}]"

    with L.step(f"{c} mb, put, ls, get"):
        ok_run(f"{c} mb", root.run("mb", f"s3://{shared}"))
        ok_run(f"{c} put", root.run("put", small, f"s3://{shared}/docs/hello.txt"))
        out = ok_run(f"{c} ls", root.run("ls", f"s3://{shared}/docs/"))
        L.ok(f"{c} ls lists the object", "docs/hello.txt" in out, out)
        got = os.path.join(work, "got.txt")
        ok_run(f"{c} get", root.run("get", "--force", f"s3://{shared}/docs/hello.txt", got))
        L.ok(f"{c} get: the bytes put", filecmp.cmp(small, got, shallow=False))
        if virtual:
            names = root.resolved()
            L.ok(f"{c} s3cmd addressed the bucket as {shared}.localhost", f"{shared}.localhost" in names, names)
        else:
            L.eq(f"{c} s3cmd looked up no bucket host name", root.resolved(), set())

    with L.step(f"{c} multipart put and sync"):
        ok_run(
            f"{c} put in 5 MiB parts",
            root.run("put", "--multipart-chunk-size-mb=5", big, f"s3://{shared}/big.bin"),
        )
        got = os.path.join(work, "big.got")
        ok_run(f"{c} get the multipart object", root.run("get", "--force", f"s3://{shared}/big.bin", got))
        L.ok(f"{c} multipart: the bytes put", filecmp.cmp(big, got, shallow=False))
        tree = os.path.join(work, f"tree-{style}")
        os.makedirs(os.path.join(tree, "sub"))
        for rel in ("a.txt", "sub/b.txt"):
            with open(os.path.join(tree, rel), "w") as f:
                f.write(rel)
        ok_run(f"{c} sync a directory up", root.run("sync", tree + "/", f"s3://{shared}/tree/"))
        back = os.path.join(work, f"back-{style}")
        ok_run(f"{c} sync it back down", root.run("sync", f"s3://{shared}/tree/", back + "/"))
        L.ok(
            f"{c} sync: the same tree",
            open(os.path.join(back, "sub/b.txt")).read() == "sub/b.txt"
            and open(os.path.join(back, "a.txt")).read() == "a.txt",
        )

    with L.step(f"{c} info, signurl and modify"):
        rc, fields, statuses, out = info_of(root, f"s3://{shared}")
        L.eq(f"{c} info of a bucket: exit 0", rc, 0)
        L.ok(f"{c} info of a bucket: every request it made succeeded or found nothing set",
             statuses and all(x in (200, 404) for x in statuses), statuses)
        for k, want in [
            ("Location", "us-east-1"),
            ("Payer", "BucketOwner"),
            ("Ownership", "BucketOwnerEnforced"),
            ("Policy", "none"),
            ("CORS", "none"),
        ]:
            L.eq(f"{c} info of a bucket: {k}", fields.get(k), want)
        rc, fields, statuses, out = info_of(root, f"s3://{shared}/docs/hello.txt")
        L.ok(f"{c} info of an object: every request succeeded or found nothing set",
             rc == 0 and statuses and all(x in (200, 404) for x in statuses), statuses)
        L.eq(f"{c} info of an object: size", fields.get("File size"), str(os.path.getsize(small)))
        L.eq(f"{c} info of an object: MD5", fields.get("MD5 sum"), hashlib.md5(open(small, "rb").read()).hexdigest())
        out = ok_run(f"{c} signurl", root.run("signurl", f"s3://{shared}/docs/hello.txt", "+300"))
        url = out.strip().splitlines()[-1] if out.strip() else ""
        if virtual:
            L.ok(f"{c} signurl names the bucket's host", f"//{shared}.localhost:" in url, url)
        status, body = fetch(url)
        L.eq(f"{c} the signed URL serves the object unsigned", (status, body), (200, b"hello from s3cmd\n"))
        ok_run(
            f"{c} modify: new metadata",
            root.run("modify", "--add-header=x-amz-meta-colour:blue", "--mime-type=text/x-note",
                     f"s3://{shared}/docs/hello.txt"),
        )
        got = ADMIN.get_object(Bucket=shared, Key="docs/hello.txt")
        L.eq(f"{c} modify: the metadata is set", got["Metadata"].get("colour"), "blue")
        L.eq(f"{c} modify: the content type is set", got["ContentType"], "text/x-note")
        L.eq(f"{c} modify: the bytes are unchanged", got["Body"].read(), b"hello from s3cmd\n")

    with L.step(f"{c} bucket settings set with s3cmd, read back with info"):
        ok_run(f"{c} setversioning enable", root.run("setversioning", f"s3://{shared}", "enable"))
        policy = os.path.join(work, f"policy-{style}.json")
        with open(policy, "w") as f:
            json.dump({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "PublicPub",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{shared}/pub/*",
                }],
            }, f)
        cors = os.path.join(work, f"cors-{style}.xml")
        with open(cors, "w") as f:
            f.write("<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example</AllowedOrigin>"
                    "<AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>")
        ok_run(f"{c} setpolicy", root.run("setpolicy", policy, f"s3://{shared}"))
        ok_run(f"{c} setcors", root.run("setcors", cors, f"s3://{shared}"))
        ok_run(f"{c} expire --expiry-days=30 --expiry-prefix=tmp/",
               root.run("expire", "--expiry-days=30", "--expiry-prefix=tmp/", f"s3://{shared}"))
        ok_run(f"{c} settagging a bucket", root.run("settagging", f"s3://{shared}", "team=data&env=ci"))
        ok_run(f"{c} settagging an object", root.run("settagging", f"s3://{shared}/docs/hello.txt", "kind=note"))
        rc, fields, statuses, out = info_of(root, f"s3://{shared}")
        # Only GET ?publicAccessBlock finds nothing: none is set yet.
        L.ok(f"{c} info after the settings: every other request succeeded",
             rc == 0 and statuses.count(404) == 1 and set(statuses) <= {200, 404}, statuses)
        L.eq(f"{c} info: Versioning", fields.get("Versioning"), "Enabled")
        rule = fields.get("Expiration Rule", "")
        L.ok(f"{c} info: Expiration Rule names the prefix and the days", "'tmp/'" in rule and "'30'" in rule, out[-800:])
        L.ok(f"{c} info: Policy is the one set", f"arn:aws:s3:::{shared}/pub/*" in out, out[-500:])
        L.ok(f"{c} info: CORS is the one set", "https://app.example" in fields.get("CORS", ""), fields.get("CORS"))
        out = ok_run(f"{c} getlifecycle", root.run("getlifecycle", f"s3://{shared}"))
        L.ok(f"{c} getlifecycle: the rule", "<Days>30</Days>" in out and "tmp/" in out, out)
        out = ok_run(f"{c} gettagging a bucket", root.run("gettagging", f"s3://{shared}"))
        L.ok(f"{c} gettagging a bucket: both tags", "team" in out and "data" in out and "env" in out, out)
        out = ok_run(f"{c} gettagging an object", root.run("gettagging", f"s3://{shared}/docs/hello.txt"))
        L.ok(f"{c} gettagging an object: the tag", "kind" in out and "note" in out, out)
        ok_run(f"{c} put into pub/", root.run("put", small, f"s3://{shared}/pub/open.txt"))
        L.eq(f"{c} the policy lets anyone read pub/", anonymous_get(shared, "pub/open.txt")[0], 200)
        L.eq(f"{c} ... and nothing else", anonymous_get(shared, "docs/hello.txt")[0], 403)
        ok_run(f"{c} delpolicy", root.run("delpolicy", f"s3://{shared}"))
        L.eq(f"{c} after delpolicy pub/ is private", anonymous_get(shared, "pub/open.txt")[0], 403)
        ok_run(f"{c} delcors", root.run("delcors", f"s3://{shared}"))
        ok_run(f"{c} dellifecycle", root.run("dellifecycle", f"s3://{shared}"))
        ok_run(f"{c} deltagging a bucket", root.run("deltagging", f"s3://{shared}"))
        ok_run(f"{c} deltagging an object", root.run("deltagging", f"s3://{shared}/docs/hello.txt"))
        rc, fields, statuses, out = info_of(root, f"s3://{shared}")
        for k in ("Policy", "CORS", "Expiration rule"):
            L.eq(f"{c} info after the dels: {k}", fields.get(k), "none")
        ok_run(f"{c} setversioning disable (suspend)", root.run("setversioning", f"s3://{shared}", "disable"))
        rc, fields, statuses, out = info_of(root, f"s3://{shared}")
        L.eq(f"{c} info: Versioning suspended", fields.get("Versioning"), "Suspended")

    with L.step(f"{c} ACLs refused on a bucket with ACLs disabled (the default)"):
        ok_run(f"{c} mb (default ownership)", root.run("mb", f"s3://{default}"))
        ok_run(f"{c} put", root.run("put", small, f"s3://{default}/hello.txt"))
        rc, out = root.run("setacl", "--acl-public", f"s3://{default}/hello.txt")
        L.ok(f"{c} setacl --acl-public: refused", rc != 0, out)
        L.ok(f"{c} ... with AccessControlListNotSupported", "AccessControlListNotSupported" in out, out)
        L.eq(f"{c} ... and the object stays private", anonymous_get(default, "hello.txt")[0], 403)

    with L.step(f"{c} ACLs on a bucket with ObjectWriter ownership"):
        ok_run(f"{c} setownership ObjectWriter", root.run("setownership", f"s3://{shared}", "ObjectWriter"))
        rc, fields, statuses, out = info_of(root, f"s3://{shared}")
        L.eq(f"{c} info: Ownership", fields.get("Ownership"), "ObjectWriter")
        L.eq(f"{c} anonymous GET before setacl: 403", anonymous_get(shared, "docs/hello.txt")[0], 403)
        ok_run(f"{c} setacl --acl-public", root.run("setacl", "--acl-public", f"s3://{shared}/docs/hello.txt"))
        status, body = anonymous_get(shared, "docs/hello.txt")
        L.eq(f"{c} anonymous GET after setacl --acl-public: 200", status, 200)
        L.eq(f"{c} anonymous GET: the bytes", body, b"hello from s3cmd\n")
        out = ok_run(f"{c} info", root.run("info", f"s3://{shared}/docs/hello.txt"))
        L.ok(f"{c} info shows the public grant", "*anon*: READ" in out, out)
        ok_run(f"{c} setacl --acl-private", root.run("setacl", "--acl-private", f"s3://{shared}/docs/hello.txt"))
        L.eq(f"{c} anonymous GET after --acl-private: 403", anonymous_get(shared, "docs/hello.txt")[0], 403)

        rc, out = user2.run("get", "--force", f"s3://{shared}/docs/hello.txt", os.path.join(work, "u2.txt"))
        L.ok(f"{c} another user cannot read it yet", rc != 0, out)
        ok_run(
            f"{c} setacl --acl-grant=read:<canonical id>",
            root.run("setacl", f"--acl-grant=read:{USER2_ID}", f"s3://{shared}/docs/hello.txt"),
        )
        ok_run(
            f"{c} the grantee reads it",
            user2.run("get", "--force", f"s3://{shared}/docs/hello.txt", os.path.join(work, "u2.txt")),
        )
        ok_run(
            f"{c} setacl --acl-revoke=read:<canonical id>",
            root.run("setacl", f"--acl-revoke=read:{USER2_ID}", f"s3://{shared}/docs/hello.txt"),
        )
        rc, out = user2.run("get", "--force", f"s3://{shared}/docs/hello.txt", os.path.join(work, "u2.txt"))
        L.ok(f"{c} after the revoke it cannot", rc != 0, out)

        ok_run(f"{c} put --acl-public", root.run("put", "--acl-public", small, f"s3://{shared}/pub/put.txt"))
        L.eq(f"{c} anonymous GET of an object put public: 200", anonymous_get(shared, "pub/put.txt")[0], 200)
        ok_run(
            f"{c} multipart put --acl-public",
            root.run("put", "--acl-public", "--multipart-chunk-size-mb=5", big, f"s3://{shared}/pub/big.bin"),
        )
        status, body = anonymous_get(shared, "pub/big.bin")
        L.eq(f"{c} anonymous GET of a multipart object put public: 200", status, 200)
        L.ok(f"{c} ... the bytes", body == open(big, "rb").read())
        ok_run(f"{c} setacl --acl-public on the bucket", root.run("setacl", "--acl-public", f"s3://{shared}"))
        try:
            with urllib.request.urlopen(f"{ENDPOINT}/{shared}?list-type=2", timeout=30) as r:
                listing = r.read().decode()
            L.ok(f"{c} anonymous listing of a public-read bucket", "pub/put.txt" in listing, listing[:300])
        except urllib.error.HTTPError as e:
            L.fail(f"{c} anonymous listing of a public-read bucket", f"HTTP {e.code}")
        ok_run(f"{c} setblockpublicaccess", root.run(
            "setblockpublicaccess", f"s3://{shared}", "BlockPublicAcls,IgnorePublicAcls"))
        L.eq(f"{c} IgnorePublicAcls: the public object is private again", anonymous_get(shared, "pub/put.txt")[0], 403)
        rc, fields, statuses, out = info_of(root, f"s3://{shared}")
        L.ok(f"{c} info: Block Public Access shows the two settings",
             "BlockPublicAcls" in fields.get("Block Public Access", "")
             and "IgnorePublicAcls" in fields.get("Block Public Access", ""), fields.get("Block Public Access"))

    with L.step(f"{c} cleanup"):
        # Versioning was on for a while: old versions and delete markers go too.
        for page in ADMIN.get_paginator("list_object_versions").paginate(Bucket=shared):
            for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
                ADMIN.delete_object(Bucket=shared, Key=v["Key"], VersionId=v["VersionId"])
        ok_run(f"{c} rb", root.run("rb", f"s3://{shared}"))
        ok_run(f"{c} rb the default bucket", root.run("rb", "--recursive", "--force", f"s3://{default}"))


def main():
    work = tempfile.mkdtemp(prefix="coffer-s3cmd-")
    small = os.path.join(work, "hello.txt")
    with open(small, "wb") as f:
        f.write(b"hello from s3cmd\n")
    big = os.path.join(work, "big.bin")
    with open(big, "wb") as f:
        f.write(os.urandom(12 << 20))
    for style in ("path", "virtual"):
        one_pass(style, work, small, big)
    shutil.rmtree(work, ignore_errors=True)
    return L.finish()


if __name__ == "__main__":
    sys.exit(main())
