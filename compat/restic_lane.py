#!/usr/bin/env python3
"""restic lane for coffer: backups with Debian's restic as a subprocess.

restic talks to `s3:<endpoint>/<bucket>/repo` (its minio-go client, which makes the
bucket at `init`) with the root credentials as AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
and a cache and $HOME in a temp dir. The job: init, a backup of a generated tree (a
20 MiB random file, a few hundred small files, an empty file and directory, a symlink,
a non-ASCII name), changes to the tree, a second backup (deduplicated against the
index read back from the server), snapshots, forget --keep-last 1 --prune, check
--read-data, and a restore of the latest snapshot compared byte for byte (sha256)
with the tree as the second backup saw it. The bucket is emptied and removed with
boto3 at the end.

Environment as for boto3_lane.py (only the root credentials are used); RESTIC
(optional) names the restic executable, default `restic` on PATH.
"""

import hashlib
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lanelib import Lane, env, root_s3  # noqa: E402

ENDPOINT = env("COFFER_ENDPOINT").rstrip("/")
ROOT_AK = env("COFFER_ACCESS_KEY_ID")
ROOT_SK = env("COFFER_SECRET_ACCESS_KEY")
RUN_ID = env("COFFER_COMPAT_RUN_ID", required=False) or secrets.token_hex(3)

L = Lane("restic")
BUCKET = f"compat-restic-{RUN_ID}"
TIMEOUT = 120  # per command; the harness gives the whole lane 300 s
MiB = 1024 * 1024
HOST = "coffer-compat"
BIG = "big/random 20MiB.bin"


class Restic:
    def __init__(self, exe, work):
        home = os.path.join(work, "home")
        os.makedirs(home)
        self.exe = exe
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("AWS_", "RESTIC_", "XDG_"))}
        self.env.update({
            "HOME": home,
            "RESTIC_REPOSITORY": f"s3:{ENDPOINT}/{BUCKET}/repo",
            "RESTIC_PASSWORD": secrets.token_urlsafe(24),
            "RESTIC_CACHE_DIR": os.path.join(work, "cache"),
            "AWS_ACCESS_KEY_ID": ROOT_AK,
            "AWS_SECRET_ACCESS_KEY": ROOT_SK,
        })

    def run(self, *args, cwd=None):
        """The finished process; a timeout comes back as exit -9 with what it printed."""
        cmd = [self.exe, *args]
        try:
            return subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=TIMEOUT,
                                  cwd=cwd)
        except subprocess.TimeoutExpired as e:
            err = e.stderr.decode("utf-8", "replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
            out = e.stdout.decode("utf-8", "replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
            return subprocess.CompletedProcess(cmd, -9, out, f"{err}\n[timed out after {TIMEOUT} s]")
        except OSError as e:
            return subprocess.CompletedProcess(cmd, -1, "", f"[could not run: {e}]")


def tail(p):
    return (p.stderr.strip() or p.stdout.strip())[-300:]


def ran_ok(check, p):
    """Exit 0, and no request that restic had to retry (it retries failed backend calls
    quietly, printing `... returned error, retrying after ...`)."""
    retried = [ln for ln in p.stderr.splitlines() if "retrying" in ln]
    return L.ok(check, p.returncode == 0 and not retried,
                f"exit {p.returncode}; {'; '.join(retried[:3]) or 'stderr: ' + tail(p)}")


def write(root, rel, data):
    full = os.path.join(root, rel)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as f:
        f.write(data)


def tree(root):
    """{relative path: what it is}: ("file", size, sha256), ("link", target) or ("dir",)."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            if os.path.islink(full):
                out[rel] = ("link", os.readlink(full))
            elif os.path.isdir(full):
                out[rel] = ("dir",)
            else:
                with open(full, "rb") as f:
                    data = f.read()
                out[rel] = ("file", len(data), hashlib.sha256(data).hexdigest())
    return out


def diff(got, want):
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    changed = sorted(k for k in set(got) & set(want) if got[k] != want[k])
    return f"missing {missing[:5]}, extra {extra[:5]}, differing {changed[:5]}"


def summary(p):
    """The `summary` message of `backup --json` (one JSON object a line)."""
    for line in reversed(p.stdout.splitlines()):
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if isinstance(msg, dict) and msg.get("message_type") == "summary":
            return msg
    return {}


def snapshots(rs, check):
    p = rs.run("snapshots", "--json")
    if not ran_ok(check, p):
        return None
    try:
        return json.loads(p.stdout)
    except ValueError:
        L.fail(f"{check}: JSON", f"stdout {p.stdout[:300]!r}")
        return None


def make_tree(src):
    rnd = random.Random(RUN_ID)
    write(src, BIG, os.urandom(20 * MiB))
    small = []
    for i in range(400):
        rel = f"small/d{i % 16:02d}/f{i:03d}.txt"
        write(src, rel, rnd.randbytes(rnd.randrange(1, 6000)))
        small.append(rel)
    write(src, "empty.txt", b"")
    write(src, "notes/r\u00e9sum\u00e9 \u65e5\u672c.md", "non-ASCII name\n".encode())
    os.makedirs(os.path.join(src, "empty-dir"))
    os.symlink("notes", os.path.join(src, "link-to-notes"))
    return small


def change_tree(src, small):
    """Four files changed, ten deleted, five added."""
    for rel in small[:3]:
        write(src, rel, b"changed after the first backup\n" + os.urandom(100))
    with open(os.path.join(src, BIG), "r+b") as f:  # 1 MiB in the middle, rewritten in place
        f.seek(9 * MiB)
        f.write(os.urandom(MiB))
    for rel in small[-10:]:
        os.remove(os.path.join(src, rel))
    for i in range(5):
        write(src, f"added/n{i}.bin", os.urandom(1000 + i))


def main():
    exe = os.environ.get("RESTIC") or "restic"
    if not shutil.which(exe):
        L.fail("restic installed", f"{exe!r} not found on PATH (compat/run.sh installs Debian's restic)")
        return L.finish()
    work = tempfile.mkdtemp(prefix="coffer-restic-lane-")
    try:
        with L.step("restic job"):
            job(Restic(exe, work), work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        cleanup()
    return L.finish()


def job(rs, work):
    p = rs.run("version")
    if ran_ok("restic version", p):
        print(f"[restic] {p.stdout.strip()}", flush=True)

    p = rs.run("init")
    if not ran_ok("init (makes the bucket)", p):
        return
    L.ok("init: created the repository", "created restic repository" in p.stdout, f"stdout {p.stdout[-300:]!r}")

    src = os.path.join(work, "src")
    small = make_tree(src)
    # cwd=src and `.`: the snapshot holds the tree itself, not the temp dir's path
    p = rs.run("backup", "--json", "--host", HOST, ".", cwd=src)
    ran_ok("first backup", p)
    first = summary(p)
    files1 = sum(1 for v in tree(src).values() if v[0] == "file")
    L.eq("first backup: every file new", (first.get("files_new"), first.get("files_changed")), (files1, 0))

    change_tree(src, small)
    state2 = tree(src)
    files2 = sum(1 for v in state2.values() if v[0] == "file")
    p = rs.run("backup", "--json", "--host", HOST, ".", cwd=src)
    ran_ok("second backup, after changes", p)
    second = summary(p)
    L.eq("second backup: files new, changed, unmodified",
         (second.get("files_new"), second.get("files_changed"), second.get("files_unmodified")),
         (5, 4, files2 - 9))
    added = second.get("data_added")
    L.ok("second backup: deduplicated against the index read back (data added < 8 MiB of 20)",
         isinstance(added, int) and added < 8 * MiB, f"data_added {added!r}")

    snaps = snapshots(rs, "snapshots --json")
    if snaps is not None:
        L.eq("snapshots: two", len(snaps), 2)
        ids = [s.get("id", "") for s in snaps]
        want = [first.get("snapshot_id") or "-", second.get("snapshot_id") or "-"]
        L.ok("snapshots: the two backups' ids",
             all(any(i.startswith(w) for i in ids) for w in want), f"ids {ids}, backups {want}")

    p = rs.run("forget", "--keep-last", "1", "--prune")
    ran_ok("forget --keep-last 1 --prune", p)
    snaps = snapshots(rs, "snapshots --json after forget")
    if snaps is not None:
        ids = [s.get("id", "") for s in snaps]
        L.ok("after forget: only the second snapshot",
             len(ids) == 1 and ids[0].startswith(second.get("snapshot_id") or "-"),
             f"ids {ids}, second {second.get('snapshot_id')!r}")

    p = rs.run("check", "--read-data")
    ran_ok("check --read-data", p)
    L.ok("check --read-data: no errors were found", "no errors were found" in p.stdout,
         f"stdout {p.stdout[-300:]!r}")

    target = os.path.join(work, "restored")
    p = rs.run("restore", "latest", "--target", target)
    ran_ok("restore latest --target", p)
    got = tree(target) if os.path.isdir(target) else {}
    L.ok("restore: every file's sha256, the symlink and the directories equal the second backup's tree",
         got == state2, diff(got, state2))


def cleanup():
    """restic never removes a repository: empty the bucket and remove it with boto3."""
    with L.step("remove the repository's bucket"):
        s3 = root_s3(ENDPOINT, ROOT_AK, ROOT_SK)
        names = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
            names += [o["Key"] for o in page.get("Contents", [])]
        L.ok("the repository's bucket holds repo/config, keys, data, index and snapshots",
             {"repo/config", "repo/keys/", "repo/data/", "repo/index/", "repo/snapshots/"}
             <= {n if n == "repo/config" else "/".join(n.split("/")[:2]) + "/" for n in names},
             f"keys {names[:10]}")
        L.eq("after forget --prune: one snapshot file",
             len([n for n in names if n.startswith("repo/snapshots/")]), 1)
        L.eq("no lock left behind", [n for n in names if n.startswith("repo/locks/")], [])
        for i in range(0, len(names), 1000):
            s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in names[i:i + 1000]]})
        s3.delete_bucket(Bucket=BUCKET)
        L.ok("bucket removed", BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]])


if __name__ == "__main__":
    sys.exit(main())
