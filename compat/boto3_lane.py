#!/usr/bin/env python3
"""boto3 compatibility lane for coffer.

Environment (set by compat/run.sh):
  COFFER_ENDPOINT                   e.g. http://127.0.0.1:9000
  COFFER_ACCESS_KEY_ID / COFFER_SECRET_ACCESS_KEY              root user
  COFFER_USER2_ACCESS_KEY_ID / COFFER_USER2_SECRET_ACCESS_KEY  second user
  COFFER_COMPAT_RUN_ID              suffix that keeps bucket names unique
  COMPAT_KMS_KEY                    an enabled key of the server's key service (SSE-KMS)
  COMPAT_KMS_DISABLED_KEY           a disabled one (enabled and disabled again by the lane)

Prints one PASS/FAIL line per check (see lanelib.py); exits 1 on any failure.
"""

import hashlib
import base64
import http.client
import json
import os
import secrets
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import boto3  # noqa: E402
from botocore import UNSIGNED  # noqa: E402
from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

from lanelib import Lane, env  # noqa: E402

ENDPOINT = env("COFFER_ENDPOINT").rstrip("/")
ROOT_AK = env("COFFER_ACCESS_KEY_ID")
ROOT_SK = env("COFFER_SECRET_ACCESS_KEY")
USER2_AK = env("COFFER_USER2_ACCESS_KEY_ID", required=False) or ""
USER2_SK = env("COFFER_USER2_SECRET_ACCESS_KEY", required=False) or ""
RUN_ID = env("COFFER_COMPAT_RUN_ID", required=False) or secrets.token_hex(3)
KMS_KEY = env("COMPAT_KMS_KEY", required=False) or ""
KMS_DISABLED_KEY = env("COMPAT_KMS_DISABLED_KEY", required=False) or ""
REGION = "us-east-1"

L = Lane("boto3")

BUCKET = f"compat-b3-{RUN_ID}"
LIST_BUCKET = f"compat-b3-list-{RUN_ID}"
MISSING_BUCKET = f"compat-b3-missing-{RUN_ID}"
ENC_BUCKET = f"compat-b3-sse-{RUN_ID}"
BODY = b"0123456789"  # 10 bytes: the range checks depend on this length
BODY_MD5 = hashlib.md5(BODY).hexdigest()
META = {"color": "blue", "owner": "compat-lane"}


class Recorder:
    """Keeps the raw HTTP response of the last call a client made.

    botocore drops the body's RequestId once parsed, so the raw bytes are
    needed to compare the XML body with the headers.
    """

    def __init__(self):
        self.last = None

    def __call__(self, http_response=None, **_kwargs):
        self.last = http_response


def make_client(ak=ROOT_AK, sk=ROOT_SK, unsigned=False):
    cfg = Config(
        region_name=REGION,
        signature_version=UNSIGNED if unsigned else "s3v4",
        s3={"addressing_style": "path"},
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
    )
    session = boto3.session.Session(
        aws_access_key_id=None if unsigned else ak,
        aws_secret_access_key=None if unsigned else sk,
        region_name=REGION,
    )
    client = session.client("s3", endpoint_url=ENDPOINT, config=cfg)
    rec = Recorder()
    client.meta.events.register("after-call.s3", rec)
    client.recorder = rec
    return client


def parse_error_xml(body):
    """Return {tag: text} of the children of <Error>, or None if not an Error doc."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    tag = root.tag.split("}", 1)[-1]
    if tag != "Error":
        return None
    out = {}
    for child in root:
        out[child.tag.split("}", 1)[-1]] = child.text or ""
    return out


def check_error_wire(label, status, headers, body, code, want_status, resource):
    """Checks on the raw HTTP error response (headers are case-insensitive)."""
    L.eq(f"{label}: HTTP status", status, want_status)
    req_id = headers.get("x-amz-request-id")
    L.nonempty(f"{label}: x-amz-request-id header present", req_id)
    L.nonempty(f"{label}: x-amz-id-2 header present", headers.get("x-amz-id-2"))
    ctype = headers.get("content-type") or ""
    L.ok(
        f"{label}: Content-Type is application/xml",
        ctype.split(";")[0].strip().lower() == "application/xml",
        f"got {ctype!r}",
    )
    doc = parse_error_xml(body)
    if not L.ok(f"{label}: body is an <Error> XML document", doc is not None, f"body {body[:300]!r}"):
        return
    L.eq(f"{label}: body Code", doc.get("Code"), code)
    L.nonempty(f"{label}: body Message non-empty", doc.get("Message"))
    if resource is None:
        L.nonempty(f"{label}: body Resource non-empty", doc.get("Resource"))
    else:
        L.eq(f"{label}: body Resource", doc.get("Resource"), resource)
    L.ok(
        f"{label}: body RequestId == x-amz-request-id header",
        bool(doc.get("RequestId")) and doc.get("RequestId") == req_id,
        f"body {doc.get('RequestId')!r}, header {req_id!r}",
    )


def expect_error(label, client, fn, code, status, resource=None):
    """Call fn(); it must raise ClientError with the given S3 error code."""
    client.recorder.last = None
    try:
        fn()
    except ClientError as e:
        err = e.response.get("Error", {})
        meta = e.response.get("ResponseMetadata", {})
        headers = meta.get("HTTPHeaders", {})
        L.eq(f"{label}: ClientError Code", err.get("Code"), code)
        L.eq(f"{label}: ResponseMetadata HTTPStatusCode", meta.get("HTTPStatusCode"), status)
        L.nonempty(f"{label}: ClientError Message non-empty", err.get("Message"))
        L.ok(
            f"{label}: x-amz-request-id header == ResponseMetadata.RequestId",
            bool(headers.get("x-amz-request-id")) and headers.get("x-amz-request-id") == meta.get("RequestId"),
            f"header {headers.get('x-amz-request-id')!r}, RequestId {meta.get('RequestId')!r}",
        )
        L.ok(
            f"{label}: x-amz-id-2 header present (== HostId)",
            bool(headers.get("x-amz-id-2")) and headers.get("x-amz-id-2") == meta.get("HostId"),
            f"header {headers.get('x-amz-id-2')!r}, HostId {meta.get('HostId')!r}",
        )
        raw = client.recorder.last
        if L.ok(f"{label}: raw response captured", raw is not None, "after-call hook saw no response"):
            check_error_wire(label + " [wire]", raw.status_code, raw.headers, raw.content, code, status, resource)
        return e
    except Exception as e:  # noqa: BLE001
        L.fail(f"{label}: ClientError {code}", f"raised {type(e).__name__}: {e}")
        return None
    else:
        L.fail(f"{label}: ClientError {code}", "call succeeded, an error was expected")
        return None


# --------------------------------------------------------------------------
# raw signed requests (for what botocore cannot be made to send)
# --------------------------------------------------------------------------

def raw_request(method, path, query="", body=b"", headers=None, ak=ROOT_AK, sk=ROOT_SK,
                payload_hash=None, chunks=None):
    """Send a SigV4-signed request over a plain socket.

    If chunks is given, the body is sent with Transfer-Encoding: chunked and no
    Content-Length. The whole request goes out in one sendall, so a server that
    answers before reading the body (e.g. 411) cannot race the client into a
    broken pipe. Returns (status, lower-cased headers, body_bytes).
    """
    url = ENDPOINT + path + (("?" + query) if query else "")
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    req.headers["X-Amz-Content-SHA256"] = payload_hash or hashlib.sha256(body).hexdigest()
    SigV4Auth(Credentials(ak, sk), "s3", REGION).add_auth(req)
    parsed = urllib.parse.urlsplit(ENDPOINT)
    target = path + (("?" + query) if query else "")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parsed.netloc}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in req.headers.items() if k.lower() != "host"]
    if chunks is not None:
        lines.append("Transfer-Encoding: chunked")
        payload = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks if c) + b"0\r\n\r\n"
    else:
        lines.append(f"Content-Length: {len(body)}")
        payload = body
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
    sock = socket.create_connection((parsed.hostname, parsed.port), timeout=30)
    try:
        try:
            sock.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close early; read what it sent
        resp = http.client.HTTPResponse(sock, method=method)
        resp.begin()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        sock.close()


def signed_head_bytes(method, path, body, ak, sk):
    """The request line and headers (no body) of a signed request with Content-Length."""
    url = ENDPOINT + path
    req = AWSRequest(method=method, url=url, data=body)
    req.headers["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()
    req.headers["Content-Length"] = str(len(body))
    SigV4Auth(Credentials(ak, sk), "s3", REGION).add_auth(req)
    netloc = urllib.parse.urlsplit(ENDPOINT).netloc
    lines = [f"{method} {path} HTTP/1.1", f"Host: {netloc}"]
    lines += [f"{k}: {v}" for k, v in req.headers.items() if k.lower() != "host"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def check_keepalive_after_early_error(label, bad_path, good_path, ak, sk):
    """A PUT that the server rejects (auth) is sent head first, then its body.

    If the server answers before the body arrives and then closes the
    connection, it must say `Connection: close`: botocore, urllib3 and node
    otherwise reuse the pooled connection and their next request fails with
    "connection closed". Passes if the response says close, or the next
    request on the same connection gets its answer.
    """
    body = b"early"
    parsed = urllib.parse.urlsplit(ENDPOINT)
    sock = socket.create_connection((parsed.hostname, parsed.port), timeout=5)

    def read_head(buf, timeout):
        sock.settimeout(timeout)
        try:
            while b"\r\n\r\n" not in buf:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                buf += chunk
        except socket.timeout:
            pass
        return buf

    try:
        sock.sendall(signed_head_bytes("PUT", bad_path, body, ak, sk))
        first = read_head(b"", 1.0)  # an early answer, if the server gives one
        # a body still on its way (slow link, large upload): send it a little later
        time.sleep(0.2)
        try:
            sock.sendall(body)
        except OSError:
            pass
        first = read_head(first, 3.0)
        head = first.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        if not L.ok(f"{label}: rejected with a 4xx", head.startswith("HTTP/1.1 4"), f"got {head[:80]!r}"):
            return
        says_close = any(line.lower().replace(" ", "") == "connection:close" for line in head.split("\r\n")[1:])
        rest = first.split(b"\r\n\r\n", 1)[1]
        try:
            time.sleep(0.05)
            sock.sendall(signed_head_bytes("GET", good_path, b"", ROOT_AK, ROOT_SK))
            sock.settimeout(3)
            while b"HTTP/1.1 200" not in rest:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                rest += chunk
        except OSError:
            pass
        L.ok(f"{label}: after an early error the response says Connection: close, or the connection stays usable",
             says_close or b"HTTP/1.1 200" in rest,
             f"response {head.splitlines()[0]!r} had no 'Connection: close' and the server then closed the "
             f"connection (next request got {rest[-60:]!r}); pooled clients fail with connection-closed errors")
    finally:
        sock.close()


def md5_b64(data):
    return base64.b64encode(hashlib.md5(data).digest()).decode()


# --------------------------------------------------------------------------
# happy paths
# --------------------------------------------------------------------------

def basics(s3):
    with L.step("create_bucket"):
        r = s3.create_bucket(Bucket=BUCKET)
        L.eq("create_bucket: status 200", r["ResponseMetadata"]["HTTPStatusCode"], 200)
        hdrs = r["ResponseMetadata"]["HTTPHeaders"]
        L.nonempty("create_bucket: x-amz-request-id on success", hdrs.get("x-amz-request-id"))
        L.nonempty("create_bucket: x-amz-id-2 on success", hdrs.get("x-amz-id-2"))

    with L.step("head_bucket"):
        r = s3.head_bucket(Bucket=BUCKET)
        L.eq("head_bucket: status 200", r["ResponseMetadata"]["HTTPStatusCode"], 200)

    with L.step("list_buckets"):
        r = s3.list_buckets()
        names = [b["Name"] for b in r.get("Buckets", [])]
        L.ok("list_buckets: contains the new bucket", BUCKET in names, f"got {names}")

    with L.step("put_object"):
        r = s3.put_object(Bucket=BUCKET, Key="hello.txt", Body=BODY, ContentType="text/plain", Metadata=META)
        L.eq("put_object: status 200", r["ResponseMetadata"]["HTTPStatusCode"], 200)
        L.eq("put_object: ETag is quoted MD5", r.get("ETag"), f'"{BODY_MD5}"')

    with L.step("get_object"):
        r = s3.get_object(Bucket=BUCKET, Key="hello.txt")
        L.eq("get_object: body", r["Body"].read(), BODY)
        L.eq("get_object: status 200", r["ResponseMetadata"]["HTTPStatusCode"], 200)
        L.eq("get_object: ContentType", r.get("ContentType"), "text/plain")
        L.eq("get_object: ContentLength", r.get("ContentLength"), len(BODY))
        L.eq("get_object: Metadata", r.get("Metadata"), META)
        L.eq("get_object: ETag", r.get("ETag"), f'"{BODY_MD5}"')
        L.ok("get_object: LastModified present", r.get("LastModified") is not None)

    with L.step("head_object"):
        r = s3.head_object(Bucket=BUCKET, Key="hello.txt")
        L.eq("head_object: status 200", r["ResponseMetadata"]["HTTPStatusCode"], 200)
        L.eq("head_object: ContentLength", r.get("ContentLength"), len(BODY))
        L.eq("head_object: ContentType", r.get("ContentType"), "text/plain")
        L.eq("head_object: Metadata", r.get("Metadata"), META)
        L.eq("head_object: ETag", r.get("ETag"), f'"{BODY_MD5}"')

    for rng, want, crange in (
        ("bytes=0-4", b"01234", "bytes 0-4/10"),
        ("bytes=-3", b"789", "bytes 7-9/10"),
        ("bytes=5-", b"56789", "bytes 5-9/10"),
    ):
        with L.step(f"get_object Range {rng}"):
            r = s3.get_object(Bucket=BUCKET, Key="hello.txt", Range=rng)
            L.eq(f"range {rng}: status 206", r["ResponseMetadata"]["HTTPStatusCode"], 206)
            L.eq(f"range {rng}: body", r["Body"].read(), want)
            L.eq(f"range {rng}: Content-Range", r.get("ContentRange"), crange)
            L.eq(f"range {rng}: Content-Length", r.get("ContentLength"), len(want))

    odd_key = "dir/space key+plus%25 ünï/ключ.txt"
    with L.step("odd key round trip"):
        s3.put_object(Bucket=BUCKET, Key=odd_key, Body=b"odd")
        r = s3.get_object(Bucket=BUCKET, Key=odd_key)
        L.eq("odd key: get body", r["Body"].read(), b"odd")
        r = s3.list_objects_v2(Bucket=BUCKET, Prefix="dir/")
        L.eq("odd key: listed key", [o["Key"] for o in r.get("Contents", [])], [odd_key])
        r = s3.delete_object(Bucket=BUCKET, Key=odd_key)
        L.eq("odd key: delete status 204", r["ResponseMetadata"]["HTTPStatusCode"], 204)

    with L.step("copy_object (COPY directive)"):
        r = s3.copy_object(Bucket=BUCKET, Key="copy.txt", CopySource={"Bucket": BUCKET, "Key": "hello.txt"})
        L.eq("copy_object: CopyObjectResult.ETag", r.get("CopyObjectResult", {}).get("ETag"), f'"{BODY_MD5}"')
        r = s3.get_object(Bucket=BUCKET, Key="copy.txt")
        L.eq("copy_object: copied body", r["Body"].read(), BODY)
        L.eq("copy_object: metadata copied", r.get("Metadata"), META)
        L.eq("copy_object: content-type copied", r.get("ContentType"), "text/plain")

    with L.step("copy_object (REPLACE directive)"):
        s3.copy_object(
            Bucket=BUCKET, Key="copy2.txt", CopySource={"Bucket": BUCKET, "Key": "hello.txt"},
            MetadataDirective="REPLACE", Metadata={"new": "yes"}, ContentType="application/json",
        )
        r = s3.head_object(Bucket=BUCKET, Key="copy2.txt")
        L.eq("copy_object REPLACE: metadata replaced", r.get("Metadata"), {"new": "yes"})
        L.eq("copy_object REPLACE: content-type replaced", r.get("ContentType"), "application/json")
        L.eq("copy_object REPLACE: length", r.get("ContentLength"), len(BODY))

    with L.step("delete_objects"):
        for k in ("del-1", "del-2", "del-3", "del-4"):
            s3.put_object(Bucket=BUCKET, Key=k, Body=k.encode())
        r = s3.delete_objects(Bucket=BUCKET, Delete={
            "Objects": [{"Key": "del-1"}, {"Key": "del-2"}, {"Key": "del-missing"}]})
        L.eq("delete_objects: Deleted keys", sorted(d["Key"] for d in r.get("Deleted", [])),
             ["del-1", "del-2", "del-missing"])
        L.eq("delete_objects: no Errors", r.get("Errors", []), [])
        r = s3.delete_objects(Bucket=BUCKET, Delete={
            "Objects": [{"Key": "del-3"}, {"Key": "del-4"}], "Quiet": True})
        L.eq("delete_objects quiet: no Deleted entries", r.get("Deleted", []), [])
        L.eq("delete_objects quiet: no Errors", r.get("Errors", []), [])
        r = s3.list_objects_v2(Bucket=BUCKET, Prefix="del-")
        L.eq("delete_objects: all gone", [o["Key"] for o in r.get("Contents", [])], [])
        L.eq("delete_objects: KeyCount 0", r.get("KeyCount"), 0)

    with L.step("conditional put If-None-Match"):
        r = s3.put_object(Bucket=BUCKET, Key="cond.txt", Body=b"first", IfNoneMatch="*")
        L.eq("conditional put: first succeeds", r["ResponseMetadata"]["HTTPStatusCode"], 200)
    expect_error("PreconditionFailed (put If-None-Match: * on existing key)", s3,
                 lambda: s3.put_object(Bucket=BUCKET, Key="cond.txt", Body=b"second", IfNoneMatch="*"),
                 "PreconditionFailed", 412, f"/{BUCKET}/cond.txt")
    with L.step("conditional put kept first body"):
        L.eq("conditional put: object unchanged", s3.get_object(Bucket=BUCKET, Key="cond.txt")["Body"].read(), b"first")

    with L.step("presigned GET"):
        url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "hello.txt"}, ExpiresIn=300)
        with urllib.request.urlopen(url, timeout=30) as resp:
            L.eq("presigned GET: status", resp.status, 200)
            L.eq("presigned GET: body", resp.read(), BODY)
        sig = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["X-Amz-Signature"][0]
        forged = sig[:-1] + ("0" if sig[-1] != "0" else "1")  # same length, wrong value
        bad = url.replace("X-Amz-Signature=" + sig, "X-Amz-Signature=" + forged)
        try:
            urllib.request.urlopen(bad, timeout=30)
            L.fail("presigned GET tampered: rejected", "request succeeded")
        except urllib.error.HTTPError as e:
            check_error_wire("SignatureDoesNotMatch (tampered presigned GET) [wire]", e.code,
                             {k.lower(): v for k, v in e.headers.items()}, e.read(),
                             "SignatureDoesNotMatch", 403, f"/{BUCKET}/hello.txt")

    with L.step("presigned PUT"):
        url = s3.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": "presigned-put.txt"}, ExpiresIn=300)
        req = urllib.request.Request(url, data=b"via presigned put", method="PUT",
                                     headers={"Content-Type": "application/octet-stream"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            L.eq("presigned PUT: status", resp.status, 200)
        L.eq("presigned PUT: stored body",
             s3.get_object(Bucket=BUCKET, Key="presigned-put.txt")["Body"].read(), b"via presigned put")

    with L.step("multipart upload"):
        part1 = os.urandom(5 * 1024 * 1024)
        part2 = os.urandom(1024)
        up = s3.create_multipart_upload(Bucket=BUCKET, Key="mp.bin", ContentType="application/octet-stream")
        uid = up["UploadId"]
        L.nonempty("multipart: UploadId", uid)
        p1 = s3.upload_part(Bucket=BUCKET, Key="mp.bin", UploadId=uid, PartNumber=1, Body=part1)
        p2 = s3.upload_part(Bucket=BUCKET, Key="mp.bin", UploadId=uid, PartNumber=2, Body=part2)
        L.eq("multipart: part 1 ETag", p1.get("ETag"), '"%s"' % hashlib.md5(part1).hexdigest())
        # InvalidArgument with a real upload id too (the bogus-id case is below)
        expect_error("InvalidArgument (upload_part PartNumber=10001, real UploadId)", s3,
                     lambda: s3.upload_part(Bucket=BUCKET, Key="mp.bin", UploadId=uid, PartNumber=10001, Body=b"x"),
                     "InvalidArgument", 400, f"/{BUCKET}/mp.bin")
        r = s3.complete_multipart_upload(Bucket=BUCKET, Key="mp.bin", UploadId=uid, MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]})
        etag = r.get("ETag") or ""
        L.ok("multipart: complete ETag ends with -2", etag.strip('"').endswith("-2"), f"got {etag!r}")
        g = s3.get_object(Bucket=BUCKET, Key="mp.bin")
        L.ok("multipart: body round trip", g["Body"].read() == part1 + part2, "body differs")
        L.eq("multipart: ContentLength", g.get("ContentLength"), len(part1) + len(part2))
        s3.delete_object(Bucket=BUCKET, Key="mp.bin")


def transfer_manager(s3):
    """boto3's upload_file/download_file: 100 MiB through multipart both ways, CRC32 on."""
    import tempfile
    from boto3.s3.transfer import TransferConfig

    with L.step("transfer manager 100 MiB"), tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "big.bin")
        dst = os.path.join(tmp, "big.out")
        with open(src, "wb") as f:
            for _ in range(100):
                f.write(os.urandom(1024 * 1024))
        cfg = TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024, max_concurrency=4)
        s3.upload_file(src, BUCKET, "big.bin", ExtraArgs={"ChecksumAlgorithm": "CRC32"}, Config=cfg)
        head = s3.head_object(Bucket=BUCKET, Key="big.bin", ChecksumMode="ENABLED")
        L.eq("upload_file 100 MiB: ContentLength", head.get("ContentLength"), 100 * 1024 * 1024)
        L.ok("upload_file 100 MiB: multipart ETag", head.get("ETag", "").strip('"').endswith("-13"), head.get("ETag"))
        L.nonempty("upload_file 100 MiB: stored CRC32 returned", head.get("ChecksumCRC32"))
        s3.download_file(BUCKET, "big.bin", dst, Config=cfg)

        def sha(path):
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            return h.hexdigest()

        L.eq("download_file 100 MiB: byte for byte", sha(dst), sha(src))
        s3.delete_object(Bucket=BUCKET, Key="big.bin")


def post_forms(s3):
    """Browser-form uploads: boto3's generate_presigned_post, posted as a browser would."""
    import urllib3

    def post(fields, data):
        body, ctype = urllib3.encode_multipart_formdata(list(fields.items()) + [("file", ("f.txt", data))])
        req = urllib.request.Request(f"{ENDPOINT}/{BUCKET}", data=body, method="POST",
                                     headers={"Content-Type": ctype})
        try:
            with urllib.request.urlopen(req) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    with L.step("presigned POST"):
        p = s3.generate_presigned_post(
            BUCKET, "forms/${filename}",
            Fields={"Content-Type": "text/plain"},
            Conditions=[["starts-with", "$key", "forms/"], {"Content-Type": "text/plain"},
                        ["content-length-range", 1, 1024]],
            ExpiresIn=600)
        status, headers, _ = post(p["fields"], b"from a browser form")
        L.eq("presigned POST: 204", status, 204)
        got = s3.get_object(Bucket=BUCKET, Key="forms/f.txt")
        L.eq("presigned POST: stored body", got["Body"].read(), b"from a browser form")
        L.eq("presigned POST: Content-Type from the form", got["ContentType"], "text/plain")
        status, headers, body = post(p["fields"], b"x" * 2000)
        check_error_wire("presigned POST over content-length-range", status, headers, body,
                         "EntityTooLarge", 400, f"/{BUCKET}")
        unsigned = {"key": "forms/anon.txt"}
        status, headers, body = post(unsigned, b"anonymous")
        check_error_wire("anonymous POST", status, headers, body, "AccessDenied", 403, f"/{BUCKET}")
        s3.delete_object(Bucket=BUCKET, Key="forms/f.txt")


def listing(s3):
    keys = ["a/1", "a/2", "a/b/3", "b/4", "c"]
    with L.step("listing setup"):
        s3.create_bucket(Bucket=LIST_BUCKET)
        for k in keys:
            s3.put_object(Bucket=LIST_BUCKET, Key=k, Body=k.encode())

    def content_keys(r):
        return [o["Key"] for o in r.get("Contents", [])]

    def prefixes(r):
        return [p["Prefix"] for p in r.get("CommonPrefixes", [])]

    with L.step("list_objects_v2 full"):
        r = s3.list_objects_v2(Bucket=LIST_BUCKET)
        L.eq("list v2: all keys in order", content_keys(r), keys)
        L.eq("list v2: KeyCount", r.get("KeyCount"), 5)
        L.eq("list v2: IsTruncated false", r.get("IsTruncated"), False)
        sizes = {o["Key"]: o["Size"] for o in r.get("Contents", [])}
        L.eq("list v2: sizes", sizes, {k: len(k) for k in keys})
        etags = {o["Key"]: o["ETag"] for o in r.get("Contents", [])}
        L.eq("list v2: ETags", etags, {k: '"%s"' % hashlib.md5(k.encode()).hexdigest() for k in keys})

    with L.step("list_objects_v2 prefix+delimiter"):
        r = s3.list_objects_v2(Bucket=LIST_BUCKET, Prefix="a/", Delimiter="/")
        L.eq("list v2 prefix=a/ delim=/: Contents", content_keys(r), ["a/1", "a/2"])
        L.eq("list v2 prefix=a/ delim=/: CommonPrefixes", prefixes(r), ["a/b/"])
        L.eq("list v2 prefix=a/ delim=/: KeyCount", r.get("KeyCount"), 3)
        r = s3.list_objects_v2(Bucket=LIST_BUCKET, Delimiter="/")
        L.eq("list v2 delim=/: Contents", content_keys(r), ["c"])
        L.eq("list v2 delim=/: CommonPrefixes", prefixes(r), ["a/", "b/"])

    with L.step("list_objects_v2 pagination"):
        pages = []
        token = None
        truncs = []
        for _ in range(10):
            kw = {"Bucket": LIST_BUCKET, "MaxKeys": 2}
            if token:
                kw["ContinuationToken"] = token
            r = s3.list_objects_v2(**kw)
            pages.append(content_keys(r))
            truncs.append(r.get("IsTruncated"))
            token = r.get("NextContinuationToken")
            if not r.get("IsTruncated"):
                break
            if not token:
                break
        L.eq("list v2 MaxKeys=2: pages", pages, [["a/1", "a/2"], ["a/b/3", "b/4"], ["c"]])
        L.eq("list v2 MaxKeys=2: IsTruncated sequence", truncs, [True, True, False])
        r = s3.list_objects_v2(Bucket=LIST_BUCKET, StartAfter="a/b/3")
        L.eq("list v2 StartAfter=a/b/3", content_keys(r), ["b/4", "c"])

    with L.step("list_objects v1"):
        r = s3.list_objects(Bucket=LIST_BUCKET, Marker="a/2")
        L.eq("list v1 Marker=a/2", content_keys(r), ["a/b/3", "b/4", "c"])
        pages, marker, truncs = [], None, []
        for _ in range(10):
            kw = {"Bucket": LIST_BUCKET, "MaxKeys": 2}
            if marker:
                kw["Marker"] = marker
            r = s3.list_objects(**kw)
            ks = content_keys(r)
            pages.append(ks)
            truncs.append(r.get("IsTruncated"))
            if not r.get("IsTruncated") or not ks:
                break
            marker = r.get("NextMarker") or ks[-1]
        L.eq("list v1 MaxKeys=2 + Marker: pages", pages, [["a/1", "a/2"], ["a/b/3", "b/4"], ["c"]])
        L.eq("list v1 MaxKeys=2: IsTruncated sequence", truncs, [True, True, False])
        r = s3.list_objects(Bucket=LIST_BUCKET, Prefix="a/", Delimiter="/")
        L.eq("list v1 prefix=a/ delim=/: Contents", content_keys(r), ["a/1", "a/2"])
        L.eq("list v1 prefix=a/ delim=/: CommonPrefixes", prefixes(r), ["a/b/"])


# --------------------------------------------------------------------------
# every seed error code a client can trigger
# --------------------------------------------------------------------------

def errors(s3):
    B = BUCKET
    # a bucket that must stay non-empty for BucketNotEmpty
    with L.step("error setup"):
        s3.put_object(Bucket=B, Key="keep.txt", Body=b"keep")

    if USER2_AK and USER2_SK:
        u2 = make_client(USER2_AK, USER2_SK)
        expect_error("AccessDenied (user2 GetObject on root's object)", u2,
                     lambda: u2.get_object(Bucket=B, Key="hello.txt"), "AccessDenied", 403, f"/{B}/hello.txt")
        expect_error("AccessDenied (user2 ListObjectsV2 on root's bucket)", u2,
                     lambda: u2.list_objects_v2(Bucket=B), "AccessDenied", 403, f"/{B}")
        expect_error("AccessDenied (user2 PutObject into root's bucket)", u2,
                     lambda: u2.put_object(Bucket=B, Key="intruder.txt", Body=b"x"), "AccessDenied", 403,
                     f"/{B}/intruder.txt")
        expect_error("BucketAlreadyExists (user2 CreateBucket on root's bucket name)", u2,
                     lambda: u2.create_bucket(Bucket=B), "BucketAlreadyExists", 409, f"/{B}")
        with L.step("user2 own bucket round trip"):
            ub = f"compat-b3-u2-{RUN_ID}"
            u2.create_bucket(Bucket=ub)
            u2.put_object(Bucket=ub, Key="mine", Body=b"mine")
            L.eq("user2: reads own object", u2.get_object(Bucket=ub, Key="mine")["Body"].read(), b"mine")
            names = [b["Name"] for b in u2.list_buckets().get("Buckets", [])]
            L.ok("user2: list_buckets shows own bucket", ub in names, f"got {names}")
            L.ok("user2: list_buckets hides root's bucket", B not in names, f"got {names}")
            u2.delete_object(Bucket=ub, Key="mine")
            u2.delete_bucket(Bucket=ub)
    else:
        L.fail("second user credentials", "COFFER_USER2_ACCESS_KEY_ID/SECRET not set; user2 checks skipped")

    anon = make_client(unsigned=True)
    expect_error("AccessDenied (anonymous GetObject)", anon,
                 lambda: anon.get_object(Bucket=B, Key="hello.txt"), "AccessDenied", 403, f"/{B}/hello.txt")
    expect_error("AccessDenied (anonymous ListObjectsV2)", anon,
                 lambda: anon.list_objects_v2(Bucket=B), "AccessDenied", 403, f"/{B}")

    expect_error("BucketAlreadyOwnedByYou (root re-creates own bucket)", s3,
                 lambda: s3.create_bucket(Bucket=B), "BucketAlreadyOwnedByYou", 409, f"/{B}")

    expect_error("BucketNotEmpty (DeleteBucket on non-empty bucket)", s3,
                 lambda: s3.delete_bucket(Bucket=B), "BucketNotEmpty", 409, f"/{B}")

    unknown = make_client("AKIACOMPATUNKNOWN0001", "not-a-real-secret-key-0000000000000000")
    expect_error("InvalidAccessKeyId (unknown key ListObjectsV2)", unknown,
                 lambda: unknown.list_objects_v2(Bucket=B), "InvalidAccessKeyId", 403, f"/{B}")
    expect_error("InvalidAccessKeyId (unknown key ListBuckets)", unknown,
                 lambda: unknown.list_buckets(), "InvalidAccessKeyId", 403, "/")

    expect_error("InvalidArgument (upload_part PartNumber=10001, bogus UploadId)", s3,
                 lambda: s3.upload_part(Bucket=B, Key="mp-bogus", UploadId="bogus-upload-id",
                                        PartNumber=10001, Body=b"x"),
                 "InvalidArgument", 400, f"/{B}/mp-bogus")

    # botocore only checks ^[a-zA-Z0-9.\-_]{1,255}$ locally; S3 rules reject these.
    with L.step("keep-alive after early error"):
        check_keepalive_after_early_error(
            "keep-alive (PUT with unknown access key)", f"/{B}/early.txt", f"/{B}/hello.txt",
            "AKIACOMPATUNKNOWN0001", "not-a-real-secret-key-0000000000000000")
        check_keepalive_after_early_error(
            "keep-alive (PUT with wrong secret)", f"/{B}/early.txt", f"/{B}/hello.txt", ROOT_AK, ROOT_SK + "x")

    expect_error("InvalidBucketName (CreateBucket 'bad..bucket')", s3,
                 lambda: s3.create_bucket(Bucket="bad..bucket"), "InvalidBucketName", 400, "/bad..bucket")
    expect_error("InvalidBucketName (CreateBucket 'ab', too short)", s3,
                 lambda: s3.create_bucket(Bucket="ab"), "InvalidBucketName", 400, "/ab")

    expect_error("InvalidRange (bytes=100-200 on 10-byte object)", s3,
                 lambda: s3.get_object(Bucket=B, Key="hello.txt", Range="bytes=100-200"),
                 "InvalidRange", 416, f"/{B}/hello.txt")

    # MalformedXML through botocore: swap the DeleteObjects body before the
    # checksum and signature are computed, so only the XML is wrong.
    bad_xml = b"<Delete><Object><Key>keep.txt</Key></Object"

    def swap_body(params, **_kw):
        params["body"] = bad_xml
        params["headers"].pop("Content-MD5", None)

    s3.meta.events.register("before-call.s3.DeleteObjects", swap_body, unique_id="compat-malformed")
    try:
        expect_error("MalformedXML (DeleteObjects, truncated XML body via botocore)", s3,
                     lambda: s3.delete_objects(Bucket=B, Delete={"Objects": [{"Key": "keep.txt"}]}),
                     "MalformedXML", 400, f"/{B}")
    finally:
        s3.meta.events.unregister("before-call.s3.DeleteObjects", unique_id="compat-malformed")

    with L.step("MalformedXML raw"):
        st, hd, bd = raw_request("POST", f"/{B}", "delete", body=bad_xml,
                                 headers={"Content-MD5": md5_b64(bad_xml), "Content-Type": "application/xml"})
        check_error_wire("MalformedXML (raw POST ?delete, truncated XML)", st, hd, bd, "MalformedXML", 400, f"/{B}")
    with L.step("MalformedXML: object survived"):
        L.eq("MalformedXML: keep.txt not deleted", s3.get_object(Bucket=B, Key="keep.txt")["Body"].read(), b"keep")

    with L.step("MissingContentLength raw"):
        st, hd, bd = raw_request("PUT", f"/{B}/chunked.txt", body=b"", payload_hash="UNSIGNED-PAYLOAD",
                                 chunks=[b"hello ", b"chunked"])
        check_error_wire("MissingContentLength (raw PUT, Transfer-Encoding: chunked)", st, hd, bd,
                         "MissingContentLength", 411, f"/{B}/chunked.txt")
    with L.step("MissingContentLength: no object created"):
        try:
            s3.head_object(Bucket=B, Key="chunked.txt")
            L.fail("MissingContentLength: object not created", "head_object found chunked.txt")
        except ClientError as e:
            L.eq("MissingContentLength: object not created (HEAD 404)",
                 e.response["ResponseMetadata"]["HTTPStatusCode"], 404)

    expect_error("NoSuchBucket (ListObjectsV2 on missing bucket)", s3,
                 lambda: s3.list_objects_v2(Bucket=MISSING_BUCKET), "NoSuchBucket", 404, f"/{MISSING_BUCKET}")
    expect_error("NoSuchBucket (GetObject in missing bucket)", s3,
                 lambda: s3.get_object(Bucket=MISSING_BUCKET, Key="k"), "NoSuchBucket", 404, None)
    expect_error("NoSuchBucket (PutObject into missing bucket)", s3,
                 lambda: s3.put_object(Bucket=MISSING_BUCKET, Key="k", Body=b"x"), "NoSuchBucket", 404, None)
    expect_error("NoSuchBucket (DeleteBucket missing bucket)", s3,
                 lambda: s3.delete_bucket(Bucket=MISSING_BUCKET), "NoSuchBucket", 404, f"/{MISSING_BUCKET}")

    expect_error("NoSuchKey (GetObject missing key)", s3,
                 lambda: s3.get_object(Bucket=B, Key="no/such/key.txt"), "NoSuchKey", 404, f"/{B}/no/such/key.txt")
    expect_error("NoSuchKey (CopyObject from missing source)", s3,
                 lambda: s3.copy_object(Bucket=B, Key="copy-missing", CopySource={"Bucket": B, "Key": "nope"}),
                 "NoSuchKey", 404, None)
    with L.step("DeleteObject missing key is idempotent"):
        r = s3.delete_object(Bucket=B, Key="no/such/key.txt")
        L.eq("DeleteObject missing key: 204", r["ResponseMetadata"]["HTTPStatusCode"], 204)

    expect_error("NoSuchUpload (AbortMultipartUpload bogus id)", s3,
                 lambda: s3.abort_multipart_upload(Bucket=B, Key="mp-bogus", UploadId="bogus-upload-id"),
                 "NoSuchUpload", 404, f"/{B}/mp-bogus")
    expect_error("NoSuchUpload (UploadPart bogus id)", s3,
                 lambda: s3.upload_part(Bucket=B, Key="mp-bogus", UploadId="bogus-upload-id", PartNumber=1, Body=b"x"),
                 "NoSuchUpload", 404, f"/{B}/mp-bogus")

    wrong = make_client(ROOT_AK, ROOT_SK + "x")
    expect_error("SignatureDoesNotMatch (right key, wrong secret, GetObject)", wrong,
                 lambda: wrong.get_object(Bucket=B, Key="hello.txt"), "SignatureDoesNotMatch", 403,
                 f"/{B}/hello.txt")
    expect_error("SignatureDoesNotMatch (right key, wrong secret, PutObject)", wrong,
                 lambda: wrong.put_object(Bucket=B, Key="sig.txt", Body=b"x"), "SignatureDoesNotMatch", 403,
                 f"/{B}/sig.txt")
    with L.step("raw NoSuchKey"):
        st, hd, bd = raw_request("GET", f"/{B}/raw-missing")
        check_error_wire("NoSuchKey (raw GET)", st, hd, bd, "NoSuchKey", 404, f"/{B}/raw-missing")


# --------------------------------------------------------------------------
# server-side encryption: SSE-S3, SSE-KMS, SSE-C and bucket default encryption
# --------------------------------------------------------------------------

def kms_arn(name):
    """How S3 names a KMS key in responses (coffer: account twelve zeros, key/<name>)."""
    return f"arn:aws:kms:{REGION}:000000000000:key/{name}"


def sse_c(key):
    """boto3 parameters for an SSE-C key (botocore base64s it and adds its MD5)."""
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}


def copy_source_sse_c(key):
    return {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": key}


def check_sse(label, r, mode, kms_key=None, bucket_key=False, customer=None):
    """One check on all the encryption fields of a response.

    mode: None (not encrypted), "AES256", "aws:kms" (kms_key: the ARN expected),
    or "SSE-C" (customer: the key). BucketKeyEnabled is only sent when true.
    """
    want = {
        "ServerSideEncryption": mode if mode in ("AES256", "aws:kms") else None,
        "SSEKMSKeyId": kms_key if mode == "aws:kms" else None,
        "BucketKeyEnabled": True if bucket_key else None,
        "SSECustomerAlgorithm": "AES256" if mode == "SSE-C" else None,
        "SSECustomerKeyMD5": md5_b64(customer) if mode == "SSE-C" else None,
    }
    got = {k: r.get(k) for k in want}
    return L.eq(f"{label}: encryption fields", got, want)


def check_ranges(label, s3, key, data, ranges, **extra):
    """Ranged GETs of an encrypted object: body, 206 and Content-Range."""
    for first, last in ranges:
        rng = f"bytes={first}-{last}"
        r = s3.get_object(Bucket=ENC_BUCKET, Key=key, Range=rng, **extra)
        L.eq(f"{label} Range {rng}: status 206", r["ResponseMetadata"]["HTTPStatusCode"], 206)
        L.ok(f"{label} Range {rng}: body", r["Body"].read() == data[first:last + 1], "body differs")
        L.eq(f"{label} Range {rng}: Content-Range", r.get("ContentRange"), f"bytes {first}-{last}/{len(data)}")


def expect_head_status(label, s3, fn, status):
    """HEAD errors have no body: botocore reports the status as the code."""
    try:
        fn()
    except ClientError as e:
        L.eq(f"{label}: HTTP status", e.response["ResponseMetadata"]["HTTPStatusCode"], status)
    except Exception as e:  # noqa: BLE001
        L.fail(f"{label}: HTTP status {status}", f"raised {type(e).__name__}: {e}")
    else:
        L.fail(f"{label}: HTTP status {status}", "call succeeded, an error was expected")


def set_kms_key_enabled(name, enabled):
    """coffer's admin API (what `coffer kms enable/disable` sends), signed as root."""
    query = "coffer-admin=kms-keys&enabled=%s&name=%s" % (
        "true" if enabled else "false", urllib.parse.quote(name, safe=""))
    status, _headers, body = raw_request("PUT", "/", query)
    if status != 200:
        raise RuntimeError(f"kms enabled={enabled} for {name}: {status} {body[:200]!r}")


def encryption(s3):
    B = ENC_BUCKET
    ckey, ckey2 = os.urandom(32), os.urandom(32)
    data = os.urandom(100 * 1024 + 7)  # several blocks of any chunked cipher
    data_md5 = hashlib.md5(data).hexdigest()
    n = len(data)
    plain = b"plain text, not encrypted"
    kms = kms_arn(KMS_KEY)
    if not KMS_KEY:
        L.fail("COMPAT_KMS_KEY set", "no KMS key name given; the checks with a named key fail")

    with L.step("sse: setup"):
        s3.create_bucket(Bucket=B)
        r = s3.put_object(Bucket=B, Key="plain.txt", Body=plain)
        check_sse("plain put_object", r, None)

    # ---- SSE-S3
    with L.step("SSE-S3 put/get/head"):
        r = s3.put_object(Bucket=B, Key="s3.bin", Body=data, ServerSideEncryption="AES256")
        check_sse("SSE-S3 put_object", r, "AES256")
        L.eq("SSE-S3 put_object: ETag is the MD5 of the data", r.get("ETag"), f'"{data_md5}"')
        r = s3.get_object(Bucket=B, Key="s3.bin")
        L.ok("SSE-S3 get_object: body round trip", r["Body"].read() == data, "body differs")
        check_sse("SSE-S3 get_object", r, "AES256")
        L.eq("SSE-S3 get_object: ContentLength is the plaintext's", r.get("ContentLength"), n)
        L.eq("SSE-S3 get_object: ETag", r.get("ETag"), f'"{data_md5}"')
        r = s3.head_object(Bucket=B, Key="s3.bin")
        check_sse("SSE-S3 head_object", r, "AES256")
        L.eq("SSE-S3 head_object: ContentLength", r.get("ContentLength"), n)
        check_ranges("SSE-S3 get_object", s3, "s3.bin", data, [(65530, 65545)])

    # ---- SSE-KMS
    with L.step("SSE-KMS put/get/head with the compat key"):
        r = s3.put_object(Bucket=B, Key="kms.bin", Body=data, ServerSideEncryption="aws:kms", SSEKMSKeyId=KMS_KEY)
        check_sse("SSE-KMS put_object", r, "aws:kms", kms)
        etag = r.get("ETag") or ""
        L.ok("SSE-KMS put_object: ETag is not the MD5 of the data", etag and etag != f'"{data_md5}"', f"got {etag!r}")
        r = s3.get_object(Bucket=B, Key="kms.bin")
        L.ok("SSE-KMS get_object: body round trip", r["Body"].read() == data, "body differs")
        check_sse("SSE-KMS get_object", r, "aws:kms", kms)
        L.eq("SSE-KMS get_object: ETag as put", r.get("ETag"), etag)
        r = s3.head_object(Bucket=B, Key="kms.bin")
        check_sse("SSE-KMS head_object", r, "aws:kms", kms)
        L.eq("SSE-KMS head_object: ContentLength is the plaintext's", r.get("ContentLength"), n)
        check_ranges("SSE-KMS get_object", s3, "kms.bin", data, [(65530, 65545)])

    with L.step("SSE-KMS key named by alias/NAME and by ARN"):
        for form in (f"alias/{KMS_KEY}", kms):
            r = s3.put_object(Bucket=B, Key="kms-forms.txt", Body=b"forms", ServerSideEncryption="aws:kms",
                              SSEKMSKeyId=form)
            check_sse(f"SSE-KMS put_object SSEKMSKeyId={form}", r, "aws:kms", kms)
        L.eq("SSE-KMS key forms: readable", s3.get_object(Bucket=B, Key="kms-forms.txt")["Body"].read(), b"forms")

    with L.step("SSE-KMS with BucketKeyEnabled and an encryption context"):
        ctx = base64.b64encode(json.dumps({"team": "compat"}).encode()).decode()
        r = s3.put_object(Bucket=B, Key="kms-bk.txt", Body=b"bucket key", ServerSideEncryption="aws:kms",
                          SSEKMSKeyId=KMS_KEY, BucketKeyEnabled=True, SSEKMSEncryptionContext=ctx)
        check_sse("SSE-KMS BucketKeyEnabled put_object", r, "aws:kms", kms, bucket_key=True)
        L.eq("SSE-KMS put_object: SSEKMSEncryptionContext echoed", r.get("SSEKMSEncryptionContext"), ctx)
        r = s3.head_object(Bucket=B, Key="kms-bk.txt")
        check_sse("SSE-KMS BucketKeyEnabled head_object", r, "aws:kms", kms, bucket_key=True)
        r = s3.get_object(Bucket=B, Key="kms-bk.txt")
        L.eq("SSE-KMS BucketKeyEnabled get_object: body", r["Body"].read(), b"bucket key")

    with L.step("SSE-KMS with the default key"):
        r = s3.put_object(Bucket=B, Key="kms-default.txt", Body=b"default key", ServerSideEncryption="aws:kms")
        check_sse("SSE-KMS default key put_object", r, "aws:kms", kms_arn("aws/s3"))
        r = s3.get_object(Bucket=B, Key="kms-default.txt")
        L.eq("SSE-KMS default key get_object: body", r["Body"].read(), b"default key")
        check_sse("SSE-KMS default key get_object", r, "aws:kms", kms_arn("aws/s3"))

    # ---- SSE-C
    with L.step("SSE-C put/get/head"):
        r = s3.put_object(Bucket=B, Key="c.bin", Body=data, **sse_c(ckey))
        check_sse("SSE-C put_object", r, "SSE-C", customer=ckey)
        etag = r.get("ETag") or ""
        L.ok("SSE-C put_object: ETag is not the MD5 of the data", etag and etag != f'"{data_md5}"', f"got {etag!r}")
        r = s3.get_object(Bucket=B, Key="c.bin", **sse_c(ckey))
        L.ok("SSE-C get_object: body round trip", r["Body"].read() == data, "body differs")
        check_sse("SSE-C get_object", r, "SSE-C", customer=ckey)
        L.eq("SSE-C get_object: ContentLength is the plaintext's", r.get("ContentLength"), n)
        L.eq("SSE-C get_object: ETag as put", r.get("ETag"), etag)
        r = s3.head_object(Bucket=B, Key="c.bin", **sse_c(ckey))
        check_sse("SSE-C head_object", r, "SSE-C", customer=ckey)
        L.eq("SSE-C head_object: ContentLength", r.get("ContentLength"), n)
        check_ranges("SSE-C get_object", s3, "c.bin", data,
                     [(0, 9), (65530, 65545), (n - 100, n - 1), (100000, n - 1)], **sse_c(ckey))

    with L.step("presigned GET of an SSE-C object"):
        # the SSE-C headers are signed headers of the URL: the client sends them with it
        url = s3.generate_presigned_url("get_object", Params={"Bucket": B, "Key": "c.bin", **sse_c(ckey)},
                                        ExpiresIn=300)
        req = urllib.request.Request(url, headers={
            "x-amz-server-side-encryption-customer-algorithm": "AES256",
            "x-amz-server-side-encryption-customer-key": base64.b64encode(ckey).decode(),
            "x-amz-server-side-encryption-customer-key-MD5": md5_b64(ckey)})
        with urllib.request.urlopen(req, timeout=30) as resp:
            L.eq("presigned GET SSE-C with the key headers: status", resp.status, 200)
            L.ok("presigned GET SSE-C with the key headers: body", resp.read() == data, "body differs")

    with L.step("listing shows plaintext sizes"):
        r = s3.list_objects_v2(Bucket=B)
        sizes = {o["Key"]: o["Size"] for o in r.get("Contents", [])}
        L.eq("list_objects_v2: sizes of SSE-S3, SSE-KMS and SSE-C objects",
             [sizes.get(k) for k in ("s3.bin", "kms.bin", "c.bin")], [n, n, n])

    with L.step("checksums of encrypted objects are the plaintext's"):
        for name, extra in (("kms-sum.bin", {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KMS_KEY}),
                            ("c-sum.bin", sse_c(ckey))):
            r = s3.put_object(Bucket=B, Key=name, Body=data, ChecksumAlgorithm="CRC32", **extra)
            sent = r.get("ChecksumCRC32")
            L.nonempty(f"put_object {name}: ChecksumCRC32 returned", sent)
            read = {k: v for k, v in extra.items() if k.startswith("SSECustomer")}
            r = s3.head_object(Bucket=B, Key=name, ChecksumMode="ENABLED", **read)
            L.eq(f"head_object {name} ChecksumMode=ENABLED: ChecksumCRC32 as put", r.get("ChecksumCRC32"), sent)

    with L.step("GetObjectAttributes of an SSE-C object"):
        # botocore does not encode SSE-C keys for GetObjectAttributes: send them as the wire wants
        r = s3.get_object_attributes(Bucket=B, Key="c.bin", ObjectAttributes=["ObjectSize", "ETag"],
                                     SSECustomerAlgorithm="AES256", SSECustomerKey=base64.b64encode(ckey).decode(),
                                     SSECustomerKeyMD5=md5_b64(ckey))
        L.eq("get_object_attributes SSE-C: ObjectSize is the plaintext's", r.get("ObjectSize"), n)
        L.eq("get_object_attributes SSE-C: ETag as put (unquoted)", r.get("ETag"),
             s3.head_object(Bucket=B, Key="c.bin", **sse_c(ckey))["ETag"].strip('"'))
    expect_error("InvalidRequest (GetObjectAttributes of an SSE-C object without its key)", s3,
                 lambda: s3.get_object_attributes(Bucket=B, Key="c.bin", ObjectAttributes=["ObjectSize"]),
                 "InvalidRequest", 400, f"/{B}/c.bin")
    with L.step("GET with x-amz-server-side-encryption (raw)"):
        # AWS: the header is for writes; a GET that sends it gets 400
        st, hd, bd = raw_request("GET", f"/{B}/s3.bin", headers={"x-amz-server-side-encryption": "AES256"})
        check_error_wire("InvalidArgument (raw GET with x-amz-server-side-encryption)", st, hd, bd,
                         "InvalidArgument", 400, f"/{B}/s3.bin")

    expect_error("InvalidRequest (GetObject of an SSE-C object without its key)", s3,
                 lambda: s3.get_object(Bucket=B, Key="c.bin"), "InvalidRequest", 400, f"/{B}/c.bin")
    expect_error("AccessDenied (GetObject of an SSE-C object with another key)", s3,
                 lambda: s3.get_object(Bucket=B, Key="c.bin", **sse_c(ckey2)), "AccessDenied", 403, f"/{B}/c.bin")
    expect_head_status("HeadObject of an SSE-C object without its key", s3,
                       lambda: s3.head_object(Bucket=B, Key="c.bin"), 400)
    expect_head_status("HeadObject of an SSE-C object with another key", s3,
                       lambda: s3.head_object(Bucket=B, Key="c.bin", **sse_c(ckey2)), 403)
    expect_error("InvalidRequest (GetObject with SSE-C headers of an unencrypted object)", s3,
                 lambda: s3.get_object(Bucket=B, Key="plain.txt", **sse_c(ckey)), "InvalidRequest", 400,
                 f"/{B}/plain.txt")
    expect_error("InvalidRequest (GetObject with SSE-C headers of an SSE-S3 object)", s3,
                 lambda: s3.get_object(Bucket=B, Key="s3.bin", **sse_c(ckey)), "InvalidRequest", 400,
                 f"/{B}/s3.bin")
    expect_error("InvalidArgument (PutObject with a 16-byte SSE-C key)", s3,
                 lambda: s3.put_object(Bucket=B, Key="bad-short-key", Body=b"x", **sse_c(os.urandom(16))),
                 "InvalidArgument", 400, f"/{B}/bad-short-key")
    expect_error("InvalidEncryptionAlgorithmError (PutObject SSE-C algorithm AES128)", s3,
                 lambda: s3.put_object(Bucket=B, Key="bad-alg", Body=b"x", SSECustomerAlgorithm="AES128",
                                       SSECustomerKey=ckey),
                 "InvalidEncryptionAlgorithmError", 400, f"/{B}/bad-alg")
    expect_error("InvalidArgument (PutObject with SSE-C and x-amz-server-side-encryption)", s3,
                 lambda: s3.put_object(Bucket=B, Key="bad-both", Body=b"x", ServerSideEncryption="AES256",
                                       **sse_c(ckey)),
                 "InvalidArgument", 400, f"/{B}/bad-both")
    with L.step("SSE-C key MD5 mismatch (raw)"):
        st, hd, bd = raw_request("PUT", f"/{B}/bad-md5", body=b"x", headers={
            "x-amz-server-side-encryption-customer-algorithm": "AES256",
            "x-amz-server-side-encryption-customer-key": base64.b64encode(ckey).decode(),
            "x-amz-server-side-encryption-customer-key-MD5": md5_b64(ckey2)})
        check_error_wire("InvalidArgument (raw PUT, SSE-C key MD5 of another key)", st, hd, bd,
                         "InvalidArgument", 400, f"/{B}/bad-md5")

    # ---- errors of SSE-S3 / SSE-KMS requests
    expect_error("KMS.NotFoundException (PutObject aws:kms with an unknown key id)", s3,
                 lambda: s3.put_object(Bucket=B, Key="bad-kms-missing", Body=b"x", ServerSideEncryption="aws:kms",
                                       SSEKMSKeyId=f"compat-no-such-key-{RUN_ID}"),
                 "KMS.NotFoundException", 400, f"/{B}/bad-kms-missing")
    if KMS_DISABLED_KEY:
        expect_error("KMS.DisabledException (PutObject aws:kms with a disabled key)", s3,
                     lambda: s3.put_object(Bucket=B, Key="bad-kms-disabled", Body=b"x",
                                           ServerSideEncryption="aws:kms", SSEKMSKeyId=KMS_DISABLED_KEY),
                     "KMS.DisabledException", 400, f"/{B}/bad-kms-disabled")
        written = False
        with L.step("write under a KMS key, then disable it"):
            set_kms_key_enabled(KMS_DISABLED_KEY, True)
            try:
                r = s3.put_object(Bucket=B, Key="kms-off.txt", Body=b"key disabled later",
                                  ServerSideEncryption="aws:kms", SSEKMSKeyId=KMS_DISABLED_KEY)
                check_sse("SSE-KMS put_object under a key enabled for a moment", r, "aws:kms",
                          kms_arn(KMS_DISABLED_KEY))
                written = True
            finally:
                set_kms_key_enabled(KMS_DISABLED_KEY, False)
        if written:
            expect_error("KMS.DisabledException (GetObject of an object whose key is now disabled)", s3,
                         lambda: s3.get_object(Bucket=B, Key="kms-off.txt"), "KMS.DisabledException", 400,
                         f"/{B}/kms-off.txt")
    else:
        L.fail("COMPAT_KMS_DISABLED_KEY set", "no disabled KMS key name given; its checks skipped")
    expect_error("InvalidArgument (PutObject x-amz-server-side-encryption: AES512)", s3,
                 lambda: s3.put_object(Bucket=B, Key="bad-sse-value", Body=b"x", ServerSideEncryption="AES512"),
                 "InvalidArgument", 400, f"/{B}/bad-sse-value")
    expect_error("InvalidArgument (PutObject SSEKMSKeyId without x-amz-server-side-encryption)", s3,
                 lambda: s3.put_object(Bucket=B, Key="bad-kms-alone", Body=b"x", SSEKMSKeyId=KMS_KEY),
                 "InvalidArgument", 400, f"/{B}/bad-kms-alone")
    expect_error("InvalidArgument (PutObject SSEKMSKeyId with x-amz-server-side-encryption: AES256)", s3,
                 lambda: s3.put_object(Bucket=B, Key="bad-kms-aes", Body=b"x", ServerSideEncryption="AES256",
                                       SSEKMSKeyId=KMS_KEY),
                 "InvalidArgument", 400, f"/{B}/bad-kms-aes")
    with L.step("refused encrypted writes stored nothing"):
        r = s3.list_objects_v2(Bucket=B, Prefix="bad-")
        L.eq("refused encrypted writes: no bad-* objects", [o["Key"] for o in r.get("Contents", [])], [])

    # ---- CopyObject between modes
    with L.step("CopyObject SSE-C source -> SSE-S3 target"):
        r = s3.copy_object(Bucket=B, Key="copy-c-to-s3.bin", CopySource={"Bucket": B, "Key": "c.bin"},
                           ServerSideEncryption="AES256", **copy_source_sse_c(ckey))
        check_sse("CopyObject SSE-C -> SSE-S3", r, "AES256")
        L.eq("CopyObject SSE-C -> SSE-S3: ETag is the MD5 of the data",
             r.get("CopyObjectResult", {}).get("ETag"), f'"{data_md5}"')
        r = s3.get_object(Bucket=B, Key="copy-c-to-s3.bin")
        L.ok("CopyObject SSE-C -> SSE-S3: target readable without a key", r["Body"].read() == data, "body differs")
        check_sse("CopyObject SSE-C -> SSE-S3: get_object", r, "AES256")
    expect_error("InvalidRequest (CopyObject of an SSE-C source without CopySourceSSECustomer*)", s3,
                 lambda: s3.copy_object(Bucket=B, Key="bad-copy-nokey", CopySource={"Bucket": B, "Key": "c.bin"}),
                 "InvalidRequest", 400, None)
    expect_error("AccessDenied (CopyObject of an SSE-C source with another copy-source key)", s3,
                 lambda: s3.copy_object(Bucket=B, Key="bad-copy-wrongkey", CopySource={"Bucket": B, "Key": "c.bin"},
                                        **copy_source_sse_c(ckey2)),
                 "AccessDenied", 403, None)

    with L.step("CopyObject plain source -> SSE-C target"):
        r = s3.copy_object(Bucket=B, Key="copy-plain-to-c.txt", CopySource={"Bucket": B, "Key": "plain.txt"},
                           **sse_c(ckey2))
        check_sse("CopyObject plain -> SSE-C", r, "SSE-C", customer=ckey2)
        r = s3.get_object(Bucket=B, Key="copy-plain-to-c.txt", **sse_c(ckey2))
        L.eq("CopyObject plain -> SSE-C: body with the key", r["Body"].read(), plain)
        check_sse("CopyObject plain -> SSE-C: get_object", r, "SSE-C", customer=ckey2)
    expect_error("InvalidRequest (GetObject of the SSE-C copy without its key)", s3,
                 lambda: s3.get_object(Bucket=B, Key="copy-plain-to-c.txt"), "InvalidRequest", 400,
                 f"/{B}/copy-plain-to-c.txt")

    with L.step("CopyObject SSE-C -> SSE-C under a new key"):
        r = s3.copy_object(Bucket=B, Key="copy-rekeyed.bin", CopySource={"Bucket": B, "Key": "c.bin"},
                           **copy_source_sse_c(ckey), **sse_c(ckey2))
        check_sse("CopyObject SSE-C -> SSE-C new key", r, "SSE-C", customer=ckey2)
        r = s3.get_object(Bucket=B, Key="copy-rekeyed.bin", **sse_c(ckey2))
        L.ok("CopyObject SSE-C -> SSE-C new key: body with the new key", r["Body"].read() == data, "body differs")
    expect_error("AccessDenied (GetObject of the re-keyed copy with the old key)", s3,
                 lambda: s3.get_object(Bucket=B, Key="copy-rekeyed.bin", **sse_c(ckey)), "AccessDenied", 403,
                 f"/{B}/copy-rekeyed.bin")

    with L.step("CopyObject SSE-S3 -> SSE-KMS"):
        r = s3.copy_object(Bucket=B, Key="copy-s3-to-kms.bin", CopySource={"Bucket": B, "Key": "s3.bin"},
                           ServerSideEncryption="aws:kms", SSEKMSKeyId=KMS_KEY)
        check_sse("CopyObject SSE-S3 -> SSE-KMS", r, "aws:kms", kms)
        r = s3.get_object(Bucket=B, Key="copy-s3-to-kms.bin")
        L.ok("CopyObject SSE-S3 -> SSE-KMS: body", r["Body"].read() == data, "body differs")
        check_sse("CopyObject SSE-S3 -> SSE-KMS: get_object", r, "aws:kms", kms)

    with L.step("CopyObject onto itself changing only the encryption"):
        s3.put_object(Bucket=B, Key="inplace.txt", Body=plain)
        r = s3.copy_object(Bucket=B, Key="inplace.txt", CopySource={"Bucket": B, "Key": "inplace.txt"},
                           ServerSideEncryption="AES256")
        check_sse("CopyObject onto itself with AES256", r, "AES256")
        r = s3.get_object(Bucket=B, Key="inplace.txt")
        L.eq("CopyObject onto itself with AES256: body", r["Body"].read(), plain)
        check_sse("CopyObject onto itself with AES256: get_object", r, "AES256")
        r = s3.copy_object(Bucket=B, Key="inplace.txt", CopySource={"Bucket": B, "Key": "inplace.txt"},
                           **sse_c(ckey))
        check_sse("CopyObject onto itself SSE-S3 -> SSE-C", r, "SSE-C", customer=ckey)
        r = s3.copy_object(Bucket=B, Key="inplace.txt", CopySource={"Bucket": B, "Key": "inplace.txt"},
                           **copy_source_sse_c(ckey), **sse_c(ckey2))
        check_sse("CopyObject onto itself rotating the SSE-C key", r, "SSE-C", customer=ckey2)
        r = s3.get_object(Bucket=B, Key="inplace.txt", **sse_c(ckey2))
        L.eq("CopyObject onto itself rotating the SSE-C key: body with the new key", r["Body"].read(), plain)
    expect_error("AccessDenied (GetObject of the object rotated in place, with the old key)", s3,
                 lambda: s3.get_object(Bucket=B, Key="inplace.txt", **sse_c(ckey)), "AccessDenied", 403,
                 f"/{B}/inplace.txt")

    # ---- multipart
    with L.step("multipart upload SSE-C"):
        part1, part2 = os.urandom(5 * 1024 * 1024), os.urandom(1000)
        key = "mp-c.bin"
        up = s3.create_multipart_upload(Bucket=B, Key=key, **sse_c(ckey))
        uid, done = up["UploadId"], False
        try:
            check_sse("SSE-C create_multipart_upload", up, "SSE-C", customer=ckey)
            p1 = s3.upload_part(Bucket=B, Key=key, UploadId=uid, PartNumber=1, Body=part1, **sse_c(ckey))
            check_sse("SSE-C upload_part", p1, "SSE-C", customer=ckey)
            expect_error("InvalidRequest (UploadPart of an SSE-C upload without the key)", s3,
                         lambda: s3.upload_part(Bucket=B, Key=key, UploadId=uid, PartNumber=2, Body=part2),
                         "InvalidRequest", 400, f"/{B}/{key}")
            expect_error("InvalidRequest (UploadPart of an SSE-C upload with another key)", s3,
                         lambda: s3.upload_part(Bucket=B, Key=key, UploadId=uid, PartNumber=2, Body=part2,
                                                **sse_c(ckey2)),
                         "InvalidRequest", 400, f"/{B}/{key}")
            p2 = s3.upload_part(Bucket=B, Key=key, UploadId=uid, PartNumber=2, Body=part2, **sse_c(ckey))
            parts = s3.list_parts(Bucket=B, Key=key, UploadId=uid).get("Parts", [])
            L.eq("SSE-C list_parts: plaintext part sizes and ETags",
                 [(x["PartNumber"], x["Size"], x["ETag"]) for x in parts],
                 [(1, len(part1), p1["ETag"]), (2, len(part2), p2["ETag"])])
            r = s3.complete_multipart_upload(Bucket=B, Key=key, UploadId=uid, **sse_c(ckey), MultipartUpload={
                "Parts": [{"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]})
            done = True
            etag = r.get("ETag") or ""
            L.ok("SSE-C complete_multipart_upload: ETag ends with -2", etag.strip('"').endswith("-2"), f"got {etag!r}")
        finally:
            if not done:
                s3.abort_multipart_upload(Bucket=B, Key=key, UploadId=uid)
        whole = part1 + part2
        r = s3.get_object(Bucket=B, Key=key, **sse_c(ckey))
        L.ok("SSE-C multipart get_object: body round trip", r["Body"].read() == whole, "body differs")
        check_sse("SSE-C multipart get_object", r, "SSE-C", customer=ckey)
        L.eq("SSE-C multipart get_object: ContentLength", r.get("ContentLength"), len(whole))
        r = s3.head_object(Bucket=B, Key=key, **sse_c(ckey))
        check_sse("SSE-C multipart head_object", r, "SSE-C", customer=ckey)
        L.eq("SSE-C multipart head_object: ETag as completed", r.get("ETag"), etag)
        check_ranges("SSE-C multipart get_object", s3, key, whole,
                     [(len(part1) - 10, len(part1) + 9), (len(whole) - 5, len(whole) - 1)], **sse_c(ckey))
    expect_error("InvalidRequest (GetObject of the SSE-C multipart object without its key)", s3,
                 lambda: s3.get_object(Bucket=B, Key="mp-c.bin"), "InvalidRequest", 400, f"/{B}/mp-c.bin")

    with L.step("multipart upload SSE-KMS with UploadPartCopy from an SSE-C source"):
        part1 = os.urandom(5 * 1024 * 1024)
        key = "mp-kms.bin"
        up = s3.create_multipart_upload(Bucket=B, Key=key, ServerSideEncryption="aws:kms", SSEKMSKeyId=KMS_KEY)
        uid, done = up["UploadId"], False
        try:
            check_sse("SSE-KMS create_multipart_upload", up, "aws:kms", kms)
            p1 = s3.upload_part(Bucket=B, Key=key, UploadId=uid, PartNumber=1, Body=part1)
            check_sse("SSE-KMS upload_part", p1, "aws:kms", kms)
            p2 = s3.upload_part_copy(Bucket=B, Key=key, UploadId=uid, PartNumber=2,
                                     CopySource={"Bucket": B, "Key": "c.bin"}, CopySourceRange="bytes=0-1023",
                                     **copy_source_sse_c(ckey))
            check_sse("SSE-KMS upload_part_copy (SSE-C source)", p2, "aws:kms", kms)
            r = s3.complete_multipart_upload(Bucket=B, Key=key, UploadId=uid, MultipartUpload={"Parts": [
                {"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]}]})
            done = True
            check_sse("SSE-KMS complete_multipart_upload", r, "aws:kms", kms)
        finally:
            if not done:
                s3.abort_multipart_upload(Bucket=B, Key=key, UploadId=uid)
        r = s3.get_object(Bucket=B, Key=key)
        L.ok("SSE-KMS multipart get_object: uploaded part + copied part", r["Body"].read() == part1 + data[:1024],
             "body differs")
        check_sse("SSE-KMS multipart get_object", r, "aws:kms", kms)

    with L.step("multipart upload SSE-C with UploadPartCopy from an SSE-KMS source"):
        part1 = os.urandom(5 * 1024 * 1024)
        key = "mp-c-copy.bin"
        up = s3.create_multipart_upload(Bucket=B, Key=key, **sse_c(ckey2))
        uid, done = up["UploadId"], False
        try:
            p1 = s3.upload_part(Bucket=B, Key=key, UploadId=uid, PartNumber=1, Body=part1, **sse_c(ckey2))
            p2 = s3.upload_part_copy(Bucket=B, Key=key, UploadId=uid, PartNumber=2,
                                     CopySource={"Bucket": B, "Key": "kms.bin"}, CopySourceRange="bytes=100-2099",
                                     **sse_c(ckey2))
            check_sse("SSE-C upload_part_copy (SSE-KMS source)", p2, "SSE-C", customer=ckey2)
            s3.complete_multipart_upload(Bucket=B, Key=key, UploadId=uid, **sse_c(ckey2), MultipartUpload={"Parts": [
                {"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]}]})
            done = True
        finally:
            if not done:
                s3.abort_multipart_upload(Bucket=B, Key=key, UploadId=uid)
        r = s3.get_object(Bucket=B, Key=key, **sse_c(ckey2))
        L.ok("SSE-C multipart with a copied part: body", r["Body"].read() == part1 + data[100:2100], "body differs")

    transfer_manager_sse(s3, ckey, kms)
    bucket_default_encryption(s3, ckey, kms, plain)


def transfer_manager_sse(s3, ckey, kms):
    """upload_file/download_file (multipart both ways) with SSE-KMS and with SSE-C."""
    import tempfile
    from boto3.s3.transfer import TransferConfig

    B = ENC_BUCKET
    cfg = TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024, max_concurrency=4)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "tm.bin")
        with open(src, "wb") as f:
            f.write(os.urandom(20 * 1024 * 1024 + 11))
        with open(src, "rb") as f:
            want = hashlib.sha256(f.read()).hexdigest()

        def downloaded(name, **kw):
            dst = os.path.join(tmp, name)
            s3.download_file(B, name, dst, Config=cfg, **kw)
            with open(dst, "rb") as f:
                return hashlib.sha256(f.read()).hexdigest()

        with L.step("transfer manager SSE-KMS"):
            s3.upload_file(src, B, "tm-kms.bin", Config=cfg,
                           ExtraArgs={"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KMS_KEY})
            head = s3.head_object(Bucket=B, Key="tm-kms.bin")
            check_sse("upload_file SSE-KMS: head_object", head, "aws:kms", kms)
            L.ok("upload_file SSE-KMS: multipart ETag", head.get("ETag", "").strip('"').endswith("-3"), head.get("ETag"))
            L.eq("download_file SSE-KMS: byte for byte", downloaded("tm-kms.bin"), want)

        with L.step("transfer manager SSE-C"):
            s3.upload_file(src, B, "tm-c.bin", Config=cfg, ExtraArgs=sse_c(ckey))
            head = s3.head_object(Bucket=B, Key="tm-c.bin", **sse_c(ckey))
            check_sse("upload_file SSE-C: head_object", head, "SSE-C", customer=ckey)
            L.ok("upload_file SSE-C: multipart ETag", head.get("ETag", "").strip('"').endswith("-3"), head.get("ETag"))
            L.eq("download_file SSE-C: byte for byte", downloaded("tm-c.bin", ExtraArgs=sse_c(ckey)), want)


def bucket_default_encryption(s3, ckey, kms, plain):
    B = ENC_BUCKET
    not_found = "ServerSideEncryptionConfigurationNotFoundError"
    expect_error(f"{not_found} (GetBucketEncryption, none set)", s3,
                 lambda: s3.get_bucket_encryption(Bucket=B), not_found, 404, f"/{B}")

    with L.step("bucket default encryption AES256"):
        r = s3.put_bucket_encryption(Bucket=B, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
        L.eq("put_bucket_encryption AES256: status 200", r["ResponseMetadata"]["HTTPStatusCode"], 200)
        rules = s3.get_bucket_encryption(Bucket=B)["ServerSideEncryptionConfiguration"]["Rules"]
        L.eq("get_bucket_encryption: AES256 rule",
             [x.get("ApplyServerSideEncryptionByDefault") for x in rules], [{"SSEAlgorithm": "AES256"}])
        r = s3.put_object(Bucket=B, Key="default-s3.txt", Body=plain)
        check_sse("default AES256: plain put_object", r, "AES256")
        r = s3.head_object(Bucket=B, Key="default-s3.txt")
        check_sse("default AES256: head_object", r, "AES256")
        L.eq("default AES256: body", s3.get_object(Bucket=B, Key="default-s3.txt")["Body"].read(), plain)

    with L.step("bucket default encryption aws:kms"):
        r = s3.put_bucket_encryption(Bucket=B, ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KMS_KEY},
            "BucketKeyEnabled": True}]})
        L.eq("put_bucket_encryption aws:kms: status 200", r["ResponseMetadata"]["HTTPStatusCode"], 200)
        rules = s3.get_bucket_encryption(Bucket=B)["ServerSideEncryptionConfiguration"]["Rules"]
        L.eq("get_bucket_encryption: aws:kms rule",
             [(x.get("ApplyServerSideEncryptionByDefault"), x.get("BucketKeyEnabled")) for x in rules],
             [({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KMS_KEY}, True)])
        r = s3.put_object(Bucket=B, Key="default-kms.txt", Body=plain)
        check_sse("default aws:kms: plain put_object", r, "aws:kms", kms, bucket_key=True)
        r = s3.get_object(Bucket=B, Key="default-kms.txt")
        L.eq("default aws:kms: body", r["Body"].read(), plain)
        check_sse("default aws:kms: get_object", r, "aws:kms", kms, bucket_key=True)
        r = s3.put_object(Bucket=B, Key="default-kms-but-s3.txt", Body=plain, ServerSideEncryption="AES256")
        check_sse("default aws:kms: put_object asking AES256 gets AES256", r, "AES256")
        r = s3.put_object(Bucket=B, Key="default-kms-but-c.txt", Body=plain, **sse_c(ckey))
        check_sse("default aws:kms: put_object with SSE-C gets SSE-C", r, "SSE-C", customer=ckey)
        r = s3.copy_object(Bucket=B, Key="default-kms-copy.txt", CopySource={"Bucket": B, "Key": "plain.txt"})
        check_sse("default aws:kms: CopyObject without SSE headers", r, "aws:kms", kms, bucket_key=True)
        up = s3.create_multipart_upload(Bucket=B, Key="default-kms-mp.bin")
        uid, done = up["UploadId"], False
        try:
            check_sse("default aws:kms: create_multipart_upload", up, "aws:kms", kms, bucket_key=True)
            p1 = s3.upload_part(Bucket=B, Key="default-kms-mp.bin", UploadId=uid, PartNumber=1, Body=plain)
            r = s3.complete_multipart_upload(Bucket=B, Key="default-kms-mp.bin", UploadId=uid, MultipartUpload={
                "Parts": [{"PartNumber": 1, "ETag": p1["ETag"]}]})
            done = True
            check_sse("default aws:kms: complete_multipart_upload", r, "aws:kms", kms, bucket_key=True)
        finally:
            if not done:
                s3.abort_multipart_upload(Bucket=B, Key="default-kms-mp.bin", UploadId=uid)
        r = s3.get_object(Bucket=B, Key="default-kms-mp.bin")
        L.eq("default aws:kms: multipart body", r["Body"].read(), plain)
    expect_error("InvalidRequest (GetObject of an SSE-C object in a default-KMS bucket without its key)", s3,
                 lambda: s3.get_object(Bucket=B, Key="default-kms-but-c.txt"), "InvalidRequest", 400,
                 f"/{B}/default-kms-but-c.txt")

    with L.step("delete_bucket_encryption"):
        r = s3.delete_bucket_encryption(Bucket=B)
        L.eq("delete_bucket_encryption: status 204", r["ResponseMetadata"]["HTTPStatusCode"], 204)
    expect_error(f"{not_found} (GetBucketEncryption after DeleteBucketEncryption)", s3,
                 lambda: s3.get_bucket_encryption(Bucket=B), not_found, 404, f"/{B}")
    with L.step("after delete_bucket_encryption"):
        r = s3.put_object(Bucket=B, Key="after-default.txt", Body=plain)
        # AWS now encrypts every new object with SSE-S3 at the least; either way no longer KMS
        L.ok("after delete_bucket_encryption: plain put_object is not aws:kms",
             r.get("ServerSideEncryption") in (None, "AES256") and r.get("SSEKMSKeyId") is None,
             f"ServerSideEncryption {r.get('ServerSideEncryption')!r}, SSEKMSKeyId {r.get('SSEKMSKeyId')!r}")
        L.eq("after delete_bucket_encryption: earlier default-KMS object still readable",
             s3.get_object(Bucket=B, Key="default-kms.txt")["Body"].read(), plain)


def cleanup(s3):
    for bucket in (BUCKET, LIST_BUCKET, ENC_BUCKET):
        with L.step(f"cleanup {bucket}"):
            keys = []
            token = None
            while True:
                kw = {"Bucket": bucket}
                if token:
                    kw["ContinuationToken"] = token
                r = s3.list_objects_v2(**kw)
                keys += [o["Key"] for o in r.get("Contents", [])]
                token = r.get("NextContinuationToken")
                if not r.get("IsTruncated") or not token:
                    break
            for k in keys:
                s3.delete_object(Bucket=bucket, Key=k)
            r = s3.delete_bucket(Bucket=bucket)
            L.eq(f"delete_bucket {bucket}: 204", r["ResponseMetadata"]["HTTPStatusCode"], 204)
    with L.step("deleted bucket is gone"):
        names = [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
        L.ok("list_buckets: lane buckets gone", not {BUCKET, LIST_BUCKET, ENC_BUCKET} & set(names), f"got {names}")


def main():
    s3 = make_client()
    basics(s3)
    transfer_manager(s3)
    post_forms(s3)
    listing(s3)
    errors(s3)
    encryption(s3)
    cleanup(s3)
    return L.finish()


if __name__ == "__main__":
    sys.exit(main())
