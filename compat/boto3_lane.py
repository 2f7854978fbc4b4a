#!/usr/bin/env python3
"""boto3 compatibility lane for coffer.

Environment (set by compat/run.sh):
  COFFER_ENDPOINT                   e.g. http://127.0.0.1:9000
  COFFER_ACCESS_KEY_ID / COFFER_SECRET_ACCESS_KEY              root user
  COFFER_USER2_ACCESS_KEY_ID / COFFER_USER2_SECRET_ACCESS_KEY  second user
  COFFER_COMPAT_RUN_ID              suffix that keeps bucket names unique

Prints one PASS/FAIL line per check (see lanelib.py); exits 1 on any failure.
"""

import hashlib
import base64
import http.client
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
REGION = "us-east-1"

L = Lane("boto3")

BUCKET = f"compat-b3-{RUN_ID}"
LIST_BUCKET = f"compat-b3-list-{RUN_ID}"
MISSING_BUCKET = f"compat-b3-missing-{RUN_ID}"
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


def cleanup(s3):
    for bucket in (BUCKET, LIST_BUCKET):
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
        L.ok("list_buckets: lane buckets gone", BUCKET not in names and LIST_BUCKET not in names, f"got {names}")


def main():
    s3 = make_client()
    basics(s3)
    transfer_manager(s3)
    post_forms(s3)
    listing(s3)
    errors(s3)
    cleanup(s3)
    return L.finish()


if __name__ == "__main__":
    sys.exit(main())
