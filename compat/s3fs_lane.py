#!/usr/bin/env python3
"""s3fs-fuse lane for coffer: a bucket mounted as a file system.

Drives Debian's s3fs (bookworm: 1.90) in the foreground (`-f`) with path-style
requests, a 0600 password file and SigV4 for us-east-1. Mounts a bucket, writes a
small file, a 30 MiB file (multipart: s3fs's parts are 10 MiB), a nested
directory and a chmod, syncs and unmounts, then checks with boto3 that the objects
exist with the right bytes (sha256); puts an object with boto3 under a prefix that
has no directory object, remounts, reads everything back and compares sha256 and
the mode, renames a small and the large file (CopyObject, then DeleteObject),
deletes a file, unmounts and checks the bucket with boto3 again.

Needs /dev/fuse and the right to mount (root, or fusermount for the user); without
them the lane fails with the reason. Every file-system step runs with a timeout
(a hung mount is torn down: s3fs killed, `fusermount -uz`), and the mount is always
unmounted before the lane ends.

Environment as for boto3_lane.py (only the endpoint and the root credentials are
used); S3FS (optional) names the s3fs executable, default `s3fs` on PATH.
"""

import os
import secrets
import shutil
import stat
import sys
import tempfile

from botocore.exceptions import ClientError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fuselib import (FS_TIMEOUT, MiB, FuseMount, bucket_objects, check_bucket, fuse_usable,  # noqa: E402
                     mounted, run, write_file)
from lanelib import Lane, env, root_s3, sha  # noqa: E402

ENDPOINT = env("COFFER_ENDPOINT").rstrip("/")
ROOT_AK = env("COFFER_ACCESS_KEY_ID")
ROOT_SK = env("COFFER_SECRET_ACCESS_KEY")
RUN_ID = env("COFFER_COMPAT_RUN_ID", required=False) or secrets.token_hex(3)

L = Lane("s3fs")
BUCKET = f"compat-s3fs-{RUN_ID}"


def meta_mode(head):
    """The permission bits s3fs keeps in x-amz-meta-mode, or what is there if not a number."""
    mode = head.get("Metadata", {}).get("mode")
    return stat.S_IMODE(int(mode)) if (mode or "").isdigit() else mode


def s3fs_mount(exe, work):
    passwd = os.path.join(work, "passwd-s3fs")
    fd = os.open(passwd, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"{ROOT_AK}:{ROOT_SK}\n")
    point = os.path.join(work, "mnt")
    cmd = [exe, BUCKET, point, "-f",
           "-o", f"url={ENDPOINT}", "-o", "use_path_request_style",
           "-o", f"passwd_file={passwd}", "-o", "endpoint=us-east-1",
           "-o", "dbglevel=warn", "-o", "retries=1", "-o", "connect_timeout=10",
           "-o", "readwrite_timeout=60"]
    return FuseMount(L, "s3fs", point, os.path.join(work, "s3fs.log"), cmd)


def main():
    exe = os.environ.get("S3FS") or "s3fs"
    if not shutil.which(exe):
        L.fail("s3fs installed", f"{exe!r} not found on PATH (compat/run.sh installs Debian's s3fs)")
        return L.finish()
    reason = fuse_usable()
    if reason:
        L.fail("FUSE available for s3fs", reason)
        return L.finish()
    L.ok("FUSE available for s3fs (/dev/fuse opens read-write)", True)
    work = tempfile.mkdtemp(prefix="coffer-s3fs-lane-")
    s3 = root_s3(ENDPOINT, ROOT_AK, ROOT_SK)
    mnt = s3fs_mount(exe, work)
    try:
        with L.step("s3fs job"):
            job(s3, mnt, exe)
    finally:
        mnt.teardown()
        still = mounted(mnt.point)
        L.ok("no mount left behind", not still, f"{mnt.point} is still a mount point")
        try:  # the bucket is left behind only when the job stopped early
            s3.head_bucket(Bucket=BUCKET)
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
                for o in page.get("Contents", []):
                    s3.delete_object(Bucket=BUCKET, Key=o["Key"])
            s3.delete_bucket(Bucket=BUCKET)
        except ClientError:
            pass
        if not still:  # never walk into a live mount: rmtree would delete through it
            shutil.rmtree(work, ignore_errors=True)
    return L.finish()


def job(s3, mnt, exe):
    p = run([exe, "--version"], timeout=10)
    version = (p.stdout or p.stderr).strip().splitlines()[:1]
    L.ok("s3fs --version", p.returncode == 0 and version, f"exit {p.returncode}; {p.stderr.strip()[-200:]}")
    print(f"[s3fs] {version[0] if version else '?'}", flush=True)

    s3.create_bucket(Bucket=BUCKET)
    L.ok("create the bucket (boto3)", True)

    files = {
        "small.txt": b"written through s3fs\n" * 50,
        "big.bin": os.urandom(30 * MiB + 5),
        "dir/sub/deep.txt": b"a nested file\n",
        "dir/other.bin": os.urandom(100_003),
    }

    # ---- first mount: write
    if not mnt.mount("mount the bucket (s3fs -f, path style, passwd_file)"):
        return
    point = mnt.point

    def write_all():
        for rel, data in files.items():
            write_file(os.path.join(point, rel), data)
        os.chmod(os.path.join(point, "small.txt"), 0o640)
        r = run(["sync"], timeout=FS_TIMEOUT)
        if r.returncode != 0:
            raise RuntimeError(f"sync exit {r.returncode} {r.stderr}")

    mnt.fs("write a small file, 30 MiB, a nested directory, chmod 0640; sync", write_all)
    names = mnt.fs("list the mount", lambda: (sorted(os.listdir(point)), sorted(os.listdir(os.path.join(point, "dir")))))
    if names is not None:
        L.eq("list the mount: top level and dir/", names, (["big.bin", "dir", "small.txt"], ["other.bin", "sub"]))
    if not mnt.unmount("unmount after writing (s3fs exits 0)"):
        return

    # ---- the objects, seen with boto3
    keys = check_bucket(L, s3, BUCKET, "after the first unmount", files, dirs_ok=True)
    L.ok("after the first unmount: directory objects for dir/ and dir/sub/",
         "dir/" in keys and "dir/sub/" in keys, f"keys {sorted(keys)}")
    try:
        h = s3.head_object(Bucket=BUCKET, Key="big.bin")
        etag = h["ETag"].strip('"')
        L.ok("big.bin: uploaded in parts (multipart ETag -N)", "-" in etag, f"ETag {etag!r}")
        L.eq("small.txt: mode in x-amz-meta-mode (the chmod, a copy onto itself)",
             meta_mode(s3.head_object(Bucket=BUCKET, Key="small.txt")), 0o640)
    except ClientError as e:
        L.fail("head-object after the first unmount", str(e))
    # an object under a prefix with no directory object, as other clients write them
    ext = b"put with boto3, no directory object\n"
    s3.put_object(Bucket=BUCKET, Key="from-boto3/ext.txt", Body=ext)

    # ---- second mount: read back, rename, delete
    if not mnt.mount("mount again"):
        return
    mnt.check_tree("read back: files and sha256", {**files, "from-boto3/ext.txt": ext})
    mode = mnt.fs("stat small.txt", lambda: stat.S_IMODE(os.stat(os.path.join(point, "small.txt")).st_mode))
    if mode is not None:
        L.eq("stat small.txt: mode 0640 kept", oct(mode), oct(0o640))

    def change():
        os.rename(os.path.join(point, "small.txt"), os.path.join(point, "renamed.txt"))
        os.rename(os.path.join(point, "big.bin"), os.path.join(point, "dir", "big-renamed.bin"))
        os.remove(os.path.join(point, "dir", "other.bin"))
        r = run(["sync"], timeout=FS_TIMEOUT)
        if r.returncode != 0:
            raise RuntimeError(f"sync exit {r.returncode} {r.stderr}")

    mnt.fs("rename a small file and the 30 MiB file, delete a file", change)
    names = mnt.fs("list the mount after the changes",
               lambda: (sorted(os.listdir(point)), sorted(os.listdir(os.path.join(point, "dir")))))
    if names is not None:
        L.eq("list after the changes: top level and dir/", names,
             (["dir", "from-boto3", "renamed.txt"], ["big-renamed.bin", "sub"]))
    got = mnt.fs("read the renamed files through the mount",
             lambda: {k: sha(open(os.path.join(point, k), "rb").read())
                      for k in ("renamed.txt", "dir/big-renamed.bin")})
    if got is not None:
        L.eq("renamed files: sha256 through the mount", got,
             {"renamed.txt": sha(files["small.txt"]), "dir/big-renamed.bin": sha(files["big.bin"])})
    if not mnt.unmount("unmount after the changes (s3fs exits 0)"):
        return

    # ---- the bucket after the changes, seen with boto3
    want = {"renamed.txt": files["small.txt"], "dir/big-renamed.bin": files["big.bin"],
            "dir/sub/deep.txt": files["dir/sub/deep.txt"], "from-boto3/ext.txt": ext}
    check_bucket(L, s3, BUCKET, "after the changes", want, dirs_ok=True)
    try:
        L.eq("renamed.txt: mode kept by the rename's copy",
             meta_mode(s3.head_object(Bucket=BUCKET, Key="renamed.txt")), 0o640)
    except ClientError as e:
        L.fail("head-object renamed.txt", str(e))

    # ---- clean up with boto3
    for key in sorted(bucket_objects(s3, BUCKET)):
        s3.delete_object(Bucket=BUCKET, Key=key)
    s3.delete_bucket(Bucket=BUCKET)
    names = [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
    L.ok("bucket emptied and deleted (boto3)", BUCKET not in names, f"buckets {names}")


if __name__ == "__main__":
    sys.exit(main())
