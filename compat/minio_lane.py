#!/usr/bin/env python3
"""minio-py lane for coffer: objects; bucket policies set and read the way MinIO's own
SDK does (set_bucket_policy / get_bucket_policy / delete_bucket_policy), checked with
unsigned requests as a browser or curl would send them; object and bucket tags.

Environment as for boto3_lane.py.
"""

import io
import json
import os
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lanelib import Lane, env  # noqa: E402
from minio import Minio  # noqa: E402
from minio.error import S3Error  # noqa: E402

ENDPOINT = env("COFFER_ENDPOINT").rstrip("/")
ROOT_AK = env("COFFER_ACCESS_KEY_ID")
ROOT_SK = env("COFFER_SECRET_ACCESS_KEY")
USER2_AK = env("COFFER_USER2_ACCESS_KEY_ID")
USER2_SK = env("COFFER_USER2_SECRET_ACCESS_KEY")
RUN_ID = env("COFFER_COMPAT_RUN_ID", required=False) or secrets.token_hex(3)

L = Lane("minio")
BUCKET = f"compat-minio-{RUN_ID}"


def client(ak, sk):
    host = urllib.parse.urlparse(ENDPOINT).netloc
    return Minio(host, access_key=ak, secret_key=sk, secure=False, region="us-east-1")


def anonymous_get(key):
    """Status and body of an unsigned GET."""
    try:
        with urllib.request.urlopen(f"{ENDPOINT}/{BUCKET}/{urllib.parse.quote(key)}", timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def code_of(fn):
    try:
        fn()
    except S3Error as e:
        return e.code
    return None


def main():
    root = client(ROOT_AK, ROOT_SK)
    user2 = client(USER2_AK, USER2_SK)
    with L.step("make_bucket and put_object"):
        root.make_bucket(BUCKET)
        L.ok("bucket_exists", root.bucket_exists(BUCKET))
        for key, body in (("public/hello.txt", b"hello, world"), ("private/secret.txt", b"not for you")):
            root.put_object(BUCKET, key, io.BytesIO(body), len(body), content_type="text/plain")
        got = root.get_object(BUCKET, "public/hello.txt")
        L.eq("get_object: body", got.read(), b"hello, world")
        got.close()
        got.release_conn()

    with L.step("no policy yet"):
        L.eq("get_bucket_policy without one: NoSuchBucketPolicy",
             code_of(lambda: root.get_bucket_policy(BUCKET)), "NoSuchBucketPolicy")
        L.eq("anonymous GET before a policy: 403", anonymous_get("public/hello.txt")[0], 403)
        L.eq("another user before a policy: AccessDenied",
             code_of(lambda: user2.stat_object(BUCKET, "public/hello.txt")), "AccessDenied")

    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"],
             "Resource": [f"arn:aws:s3:::{BUCKET}/public/*"]},
            {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::000000000000:user/compat-user2"]},
             "Action": ["s3:ListBucket"], "Resource": [f"arn:aws:s3:::{BUCKET}"]},
        ],
    }
    with L.step("set_bucket_policy"):
        root.set_bucket_policy(BUCKET, json.dumps(policy))
        L.eq("get_bucket_policy: the policy set", json.loads(root.get_bucket_policy(BUCKET)), policy)
        status, body = anonymous_get("public/hello.txt")
        L.eq("anonymous GET of a public object: 200", status, 200)
        L.eq("anonymous GET: body", body, b"hello, world")
        L.eq("anonymous GET outside the public prefix: 403", anonymous_get("private/secret.txt")[0], 403)
        keys = sorted(o.object_name for o in user2.list_objects(BUCKET, recursive=True))
        L.eq("the named user lists the bucket", keys, ["private/secret.txt", "public/hello.txt"])
        L.eq("the named user may not read private objects",
             code_of(lambda: user2.stat_object(BUCKET, "private/secret.txt")), "AccessDenied")
        L.eq("a malformed policy: MalformedPolicy",
             code_of(lambda: root.set_bucket_policy(BUCKET, '{"Statement": []}')), "MalformedPolicy")

    with L.step("delete_bucket_policy"):
        root.delete_bucket_policy(BUCKET)
        L.eq("anonymous GET after delete_bucket_policy: 403", anonymous_get("public/hello.txt")[0], 403)

    with L.step("object and bucket tags"):
        from minio.commonconfig import Tags
        tags = Tags.new_object_tags()
        tags["team"] = "a"
        tags["stage"] = "prod"
        root.set_object_tags(BUCKET, "public/hello.txt", tags)
        got = root.get_object_tags(BUCKET, "public/hello.txt")
        L.eq("get_object_tags: the tags set", dict(got or {}), {"team": "a", "stage": "prod"})
        root.delete_object_tags(BUCKET, "public/hello.txt")
        L.eq("delete_object_tags: none left", dict(root.get_object_tags(BUCKET, "public/hello.txt") or {}), {})
        btags = Tags.new_bucket_tags()
        btags["owner"] = "compat"
        root.set_bucket_tags(BUCKET, btags)
        L.eq("get_bucket_tags: the tags set", dict(root.get_bucket_tags(BUCKET) or {}), {"owner": "compat"})
        root.delete_bucket_tags(BUCKET)
        L.eq("delete_bucket_tags: none left", dict(root.get_bucket_tags(BUCKET) or {}), {})

    with L.step("cleanup"):
        for o in root.list_objects(BUCKET, recursive=True):
            root.remove_object(BUCKET, o.object_name)
        root.remove_bucket(BUCKET)
        L.ok("bucket removed", not root.bucket_exists(BUCKET))
    return L.finish()


if __name__ == "__main__":
    sys.exit(main())
