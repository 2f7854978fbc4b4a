#!/usr/bin/env python3
"""rclone lane for coffer: a realistic sync job with Debian's rclone as a subprocess.

The remote `coffer:` is configured through RCLONE_CONFIG_COFFER_* environment
variables only, with an empty config file, cache and $HOME in a temp dir, so
nothing of the calling user's is read or written. The job: mkdir, sync a tree
(nested dirs, an empty file, a name with spaces and non-ASCII letters, small files
and one multipart upload above a 5 MiB cutoff), check, ls/lsjson, a ranged cat, a
server-side copy into a second bucket (multipart copy above a 5 MiB copy cutoff),
local changes and deletions synced again, copies back compared byte for byte with
sha256, and purge. Then `rclone mount` (FUSE, `--vfs-cache-mode writes`) of a third
bucket: files written through the mount (one multipart), seen with boto3 by sha256; an
object put with boto3; remounted, everything read back, a rename and a delete through the
mount, seen with boto3 again. The mount needs /dev/fuse and fusermount (compat/run.sh
installs Debian's `fuse` when missing); every file-system step has a timeout and the mount
is always torn down.

Environment as for boto3_lane.py (only the root credentials are used); RCLONE
(optional) names the rclone executable, default `rclone` on PATH.
"""

import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fuselib import FuseMount, check_bucket, fuse_usable, mounted, write_file  # noqa: E402
from lanelib import Lane, env, root_s3, sha  # noqa: E402

ENDPOINT = env("COFFER_ENDPOINT").rstrip("/")
ROOT_AK = env("COFFER_ACCESS_KEY_ID")
ROOT_SK = env("COFFER_SECRET_ACCESS_KEY")
RUN_ID = env("COFFER_COMPAT_RUN_ID", required=False) or secrets.token_hex(3)

L = Lane("rclone")
BUCKET = f"compat-rclone-{RUN_ID}"
BUCKET2 = f"compat-rclone-copy-{RUN_ID}"
BUCKET3 = f"compat-rclone-mount-{RUN_ID}"
TIMEOUT = 120  # per command; the harness gives the whole lane 300 s
MiB = 1024 * 1024
BIG = "media/big 12MiB.bin"
# every command: multipart above 5 MiB for uploads and server-side copies, no retries
# hiding a failed request, and the periodic stats out of the INFO log
FLAGS = ["--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", "--s3-copy-cutoff", "5M",
         "--retries", "1", "--low-level-retries", "1", "--contimeout", "10s", "--timeout", "60s",
         "--stats-log-level", "DEBUG", "--use-json-log=false"]


class Rclone:
    def __init__(self, exe, work):
        home = os.path.join(work, "home")
        os.makedirs(home)
        config = os.path.join(work, "rclone.conf")
        open(config, "w").close()
        self.exe = exe
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("AWS_", "RCLONE_", "XDG_"))}
        self.env.update({
            "HOME": home,
            "RCLONE_CONFIG": config,
            "RCLONE_CACHE_DIR": os.path.join(work, "cache"),
            "RCLONE_CONFIG_COFFER_TYPE": "s3",
            "RCLONE_CONFIG_COFFER_PROVIDER": "Other",
            "RCLONE_CONFIG_COFFER_ENV_AUTH": "false",
            "RCLONE_CONFIG_COFFER_ACCESS_KEY_ID": ROOT_AK,
            "RCLONE_CONFIG_COFFER_SECRET_ACCESS_KEY": ROOT_SK,
            "RCLONE_CONFIG_COFFER_ENDPOINT": ENDPOINT,
            "RCLONE_CONFIG_COFFER_REGION": "us-east-1",
            "RCLONE_CONFIG_COFFER_FORCE_PATH_STYLE": "true",
        })

    def run(self, *args, text=True):
        """The finished process; a timeout comes back as exit -9 with what it printed."""
        cmd = [self.exe, *args, *FLAGS]
        try:
            return subprocess.run(cmd, env=self.env, capture_output=True, text=text, timeout=TIMEOUT)
        except subprocess.TimeoutExpired as e:
            out = e.stdout or (b"" if not text else "")
            err = e.stderr.decode("utf-8", "replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
            return subprocess.CompletedProcess(cmd, -9, out, f"{err}\n[timed out after {TIMEOUT} s]")
        except OSError as e:
            return subprocess.CompletedProcess(cmd, -1, "" if text else b"", f"[could not run: {e}]")


def tail(p):
    err = p.stderr if isinstance(p.stderr, str) else p.stderr.decode("utf-8", "replace")
    return err.strip()[-300:]


def ran_ok(check, p):
    """Exit 0 and no ERROR line in rclone's log."""
    err = p.stderr if isinstance(p.stderr, str) else p.stderr.decode("utf-8", "replace")
    errors = [ln for ln in err.splitlines() if " ERROR " in ln]
    return L.ok(check, p.returncode == 0 and not errors,
                f"exit {p.returncode}; {'; '.join(errors[:3]) or 'stderr: ' + tail(p)}")


def write(root, rel, data, mtime=None):
    full = os.path.join(root, rel)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as f:
        f.write(data)
    if mtime is not None:
        os.utime(full, (mtime, mtime))


def tree(root, algo="sha256"):
    """{relative path: (size, hex digest)} of every file under root."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            with open(full, "rb") as f:
                data = f.read()
            out[os.path.relpath(full, root).replace(os.sep, "/")] = (len(data), hashlib.new(algo, data).hexdigest())
    return out


def diff(got, want):
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    changed = sorted(k for k in set(got) & set(want) if got[k] != want[k])
    return f"missing {missing[:5]}, extra {extra[:5]}, differing {changed[:5]}"


def check_says_equal(check, p, files):
    """`rclone check` logs `0 differences found` and `N matching files`; every hash compared."""
    if not ran_ok(check, p):
        return
    log = p.stderr
    L.ok(f"{check}: 0 differences found", re.search(r"\b0 differences found", log), f"log: {log.strip()[-300:]}")
    m = re.search(r"(\d+) matching files", log)
    L.eq(f"{check}: matching files", int(m.group(1)) if m else None, files)
    L.ok(f"{check}: every file's MD5 compared (no 'hashes could not be checked')",
         "could not be checked" not in log, f"log: {log.strip()[-300:]}")


def ls_sizes(p):
    """`rclone ls` prints `<size> <path>` per object."""
    out = {}
    for line in p.stdout.splitlines():
        m = re.match(r"\s*(\d+) (.*)$", line)
        if m:
            out[m.group(2)] = int(m.group(1))
    return out


def parse_time(s):
    # RFC 3339 with up to 9 fractional digits, which datetime only takes to 6
    m = re.match(r"(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", s)
    frac = (m.group(2) or "0")[:6].ljust(6, "0")
    tz = "+00:00" if m.group(3) == "Z" else m.group(3)
    return datetime.fromisoformat(f"{m.group(1)}.{frac}{tz}").timestamp()


def main():
    exe = os.environ.get("RCLONE") or "rclone"
    if not shutil.which(exe):
        L.fail("rclone installed", f"{exe!r} not found on PATH (compat/run.sh installs Debian's rclone)")
        return L.finish()
    work = tempfile.mkdtemp(prefix="coffer-rclone-lane-")
    rc = Rclone(exe, work)
    mnt = None
    try:
        with L.step("rclone job"):
            job(rc, work)
        reason = fuse_usable()
        if reason:
            L.fail("FUSE available for rclone mount", reason)
        else:
            mnt = rclone_mount(rc, work)
            with L.step("rclone mount job"):
                mount_job(rc, mnt)
    finally:
        if mnt is not None:
            mnt.teardown()
            L.ok("no mount left behind", not mounted(mnt.point), f"{mnt.point} is still a mount point")
        for b in (BUCKET, BUCKET2, BUCKET3):  # left behind only when a job stopped early
            if b in rc.run("lsd", "coffer:").stdout.split():
                rc.run("purge", f"coffer:{b}")
        if mnt is None or not mounted(mnt.point):  # never walk into a live mount
            shutil.rmtree(work, ignore_errors=True)
    return L.finish()


def rclone_mount(rc, work):
    """`rclone mount` in the foreground, with the write cache a file system needs for
    files written in place, uploads started as soon as a file is closed, and no directory
    cache hiding what another client wrote."""
    point = os.path.join(work, "mnt")
    cmd = [rc.exe, "mount", f"coffer:{BUCKET3}", point, "--vfs-cache-mode", "writes",
           "--vfs-write-back", "0s", "--dir-cache-time", "1s", "--poll-interval", "0", *FLAGS]
    return FuseMount(L, "rclone mount", point, os.path.join(work, "mount.log"), cmd, env=rc.env)


def mount_job(rc, mnt):
    s3 = root_s3(ENDPOINT, ROOT_AK, ROOT_SK)
    ran_ok("mkdir coffer:bucket3 (for the mount)", rc.run("mkdir", f"coffer:{BUCKET3}"))
    files = {
        "notes.txt": b"written through rclone mount\n" * 40,
        "media/big.bin": os.urandom(12 * MiB + 3),
        "a/b/deep.txt": b"a nested file\n",
        "empty.txt": b"",
    }
    point = mnt.point

    # ---- first mount: write
    if not mnt.mount("rclone mount (--vfs-cache-mode writes)"):
        return
    mnt.fs("write a small file, 12 MiB, a nested file and an empty one",
           lambda: [write_file(os.path.join(point, k), v) for k, v in files.items()])
    got = check_bucket(L, s3, BUCKET3, "after writing through the mount", files, settle=60)
    etag = got.get("media/big.bin", {}).get("ETag", "").strip('"')
    L.ok("media/big.bin: uploaded in parts (multipart ETag -N)", "-" in etag, f"ETag {etag!r}")
    if not mnt.unmount("unmount after writing (rclone exits 0)"):
        return

    ext = b"put with boto3 while nothing was mounted\n"
    s3.put_object(Bucket=BUCKET3, Key="a/from-boto3.txt", Body=ext)

    # ---- second mount: read back, rename, delete
    if not mnt.mount("rclone mount again"):
        return
    mnt.check_tree("read back through the mount: files and sha256", {**files, "a/from-boto3.txt": ext})

    def change():
        os.rename(os.path.join(point, "notes.txt"), os.path.join(point, "a", "renamed.txt"))
        os.rename(os.path.join(point, "media", "big.bin"), os.path.join(point, "big-renamed.bin"))
        os.remove(os.path.join(point, "a", "b", "deep.txt"))

    mnt.fs("rename a small file and the 12 MiB file, delete a file", change)
    want = {"a/renamed.txt": files["notes.txt"], "big-renamed.bin": files["media/big.bin"],
            "empty.txt": b"", "a/from-boto3.txt": ext}
    check_bucket(L, s3, BUCKET3, "after the changes through the mount", want, settle=60)
    got = mnt.fs("read the renamed files through the mount",
                 lambda: {k: sha(open(os.path.join(point, k), "rb").read()) for k in ("a/renamed.txt", "big-renamed.bin")})
    if got is not None:
        L.eq("renamed files: sha256 through the mount", got,
             {"a/renamed.txt": sha(files["notes.txt"]), "big-renamed.bin": sha(files["media/big.bin"])})
    if not mnt.unmount("unmount after the changes (rclone exits 0)"):
        return
    ran_ok("purge bucket3", rc.run("purge", f"coffer:{BUCKET3}"))


def default_acl(rc, work):
    """rclone 1.60 sends `x-amz-acl: private` with every upload unless told another ACL
    (there is no way to send none). The bucket owner's own `private` upload into a bucket
    with ACLs disabled (BucketOwnerEnforced) succeeds, as on AWS: only another account's
    is refused."""
    probe = os.path.join(work, "probe.txt")
    write(work, "probe.txt", b"uploaded with rclone's default ACL\n")
    check = "upload with rclone's default acl (x-amz-acl: private) into a bucket it made"
    if ran_ok(check, rc.run("copyto", probe, f"coffer:{BUCKET2}/probe.txt")):
        p = rc.run("cat", f"coffer:{BUCKET2}/probe.txt", text=False)
        L.ok("cat the default-acl upload", p.returncode == 0 and p.stdout == b"uploaded with rclone's default ACL\n",
             f"exit {p.returncode}; got {p.stdout[:100]!r}; stderr: {tail(p)}")
        ran_ok("deletefile the default-acl upload", rc.run("deletefile", f"coffer:{BUCKET2}/probe.txt"))


def job(rc, work):
    p = rc.run("version")
    if ran_ok("rclone version", p):
        print(f"[rclone] {p.stdout.splitlines()[0]}", flush=True)

    src = os.path.join(work, "src")
    base = 1_700_000_000  # fixed whole-second mtimes, all in the past
    files = {
        "README.md": b"# a tree synced by rclone\n",
        "empty.txt": b"",
        "docs/notes 2024 \u00fcber \u65e5\u672c.txt": "spaces, umlauts and kanji in the key\n".encode(),
        "docs/a/b/c/deep.txt": b"deep\n" * 10,
        "data/one.csv": b"id,value\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(2000)),
        "data/two.json": json.dumps({"k": list(range(500))}).encode(),
        "data/rand.bin": os.urandom(300_001),
        "old/stale.txt": b"deleted locally later\n",
        "old/stale2.txt": b"deleted locally later too\n",
        BIG: os.urandom(12 * MiB + 7),
    }
    for i, (rel, data) in enumerate(sorted(files.items())):
        write(src, rel, data, base + i)
    state1 = tree(src)
    md5s = tree(src, "md5")

    # ---- buckets (rclone sends `x-amz-acl: private` with CreateBucket), and rclone's default ACL
    ran_ok("mkdir coffer:bucket", rc.run("mkdir", f"coffer:{BUCKET}"))
    ran_ok("mkdir coffer:bucket2", rc.run("mkdir", f"coffer:{BUCKET2}"))
    p = rc.run("lsd", "coffer:")
    if ran_ok("lsd coffer: (buckets)", p):
        names = p.stdout.split()
        L.ok("lsd coffer: lists the new buckets", BUCKET in names and BUCKET2 in names,
             f"stdout {p.stdout[-300:]!r}")
    default_acl(rc, work)

    p = rc.run("sync", src, f"coffer:{BUCKET}", "-v")
    ran_ok("sync local -> bucket", p)
    copied = len(re.findall(r": Copied \(new\)", p.stderr))
    L.eq("sync local -> bucket: every file copied new", copied, len(files))

    check_says_equal("check local vs bucket", rc.run("check", src, f"coffer:{BUCKET}"), len(files))

    p = rc.run("ls", f"coffer:{BUCKET}")
    if ran_ok("ls bucket", p):
        L.eq("ls bucket: paths and sizes", ls_sizes(p), {k: v[0] for k, v in state1.items()})

    p = rc.run("lsjson", "-R", "--files-only", "--hash", f"coffer:{BUCKET}")
    if ran_ok("lsjson -R --hash bucket", p):
        try:
            entries = {e["Path"]: e for e in json.loads(p.stdout)}
        except ValueError:
            entries = {}
        L.eq("lsjson: paths and sizes", {k: e.get("Size") for k, e in entries.items()},
             {k: v[0] for k, v in state1.items()})
        L.eq("lsjson: MD5 of every object (the multipart one from rclone's metadata)",
             {k: (e.get("Hashes") or {}).get("md5") for k, e in entries.items()},
             {k: v[1] for k, v in md5s.items()})
        mtimes = {}
        for k, e in entries.items():
            try:
                mtimes[k] = round(parse_time(e["ModTime"]), 3)
            except (KeyError, AttributeError, ValueError):
                mtimes[k] = e.get("ModTime")
        L.eq("lsjson: modification times kept (x-amz-meta-mtime)", mtimes,
             {k: float(round(os.stat(os.path.join(src, k)).st_mtime, 3)) for k in files})

    # a ranged read across the multipart object's part boundary
    p = rc.run("cat", "--offset", str(5 * MiB - 100), "--count", "1000", f"coffer:{BUCKET}/{BIG}", text=False)
    if ran_ok("cat --offset --count (ranged GET)", p):
        L.ok("cat --offset --count: the bytes of that range",
             p.stdout == files[BIG][5 * MiB - 100:5 * MiB + 900], f"got {len(p.stdout)} bytes")

    # ---- server-side copy into a second bucket
    p = rc.run("copy", f"coffer:{BUCKET}", f"coffer:{BUCKET2}/copied", "-v")
    ran_ok("copy bucket -> bucket2/copied (server-side)", p)
    server_side = len(re.findall(r"Copied \(server-side copy\)", p.stderr))
    L.eq("copy bucket -> bucket2: every object copied server-side", server_side, len(files))
    check_says_equal("check bucket vs bucket2/copied", rc.run("check", f"coffer:{BUCKET}", f"coffer:{BUCKET2}/copied"),
                     len(files))

    # ---- local changes, synced again
    write(src, "README.md", b"# a tree synced by rclone, twice\n", base + 100)        # new size
    write(src, "data/rand.bin", os.urandom(300_001), base + 101)                       # same size, newer
    write(src, "docs/notes 2024 \u00fcber \u65e5\u672c.txt", b"rewritten\n", base + 102)
    write(src, "new/dir/added.txt", b"added after the first sync\n", base + 103)
    os.remove(os.path.join(src, "data/two.json"))
    shutil.rmtree(os.path.join(src, "old"))
    state2 = tree(src)
    p = rc.run("sync", src, f"coffer:{BUCKET}", "-v")
    ran_ok("sync again after local changes", p)
    log = p.stderr
    L.eq("sync again: replaced the 3 changed files",
         len(re.findall(r": Copied \(replaced existing\)", log)), 3)
    L.eq("sync again: uploaded the 1 new file", len(re.findall(r": Copied \(new\)", log)), 1)
    L.eq("sync again: deleted the 3 files gone locally", len(re.findall(r": Deleted", log)), 3)
    p = rc.run("ls", f"coffer:{BUCKET}")
    if ran_ok("ls bucket after the second sync", p):
        L.eq("ls after the second sync: deletions propagated, sizes current", ls_sizes(p),
             {k: v[0] for k, v in state2.items()})
    check_says_equal("check local vs bucket after the second sync", rc.run("check", src, f"coffer:{BUCKET}"),
                     len(state2))
    p = rc.run("sync", src, f"coffer:{BUCKET}", "-v")
    ran_ok("sync a third time", p)
    L.ok("sync a third time: nothing to transfer or delete",
         not re.search(r": (Copied|Deleted|Updated)", p.stderr), f"log: {p.stderr.strip()[-300:]}")

    # ---- copies back, compared byte for byte
    back = os.path.join(work, "back")
    ran_ok("copy bucket -> fresh local dir", rc.run("copy", f"coffer:{BUCKET}", back))
    got = tree(back) if os.path.isdir(back) else {}
    L.ok("copy back: sha256 of every file equals the source's", got == state2, diff(got, state2))
    back1 = os.path.join(work, "back1")
    ran_ok("copy bucket2/copied -> fresh local dir", rc.run("copy", f"coffer:{BUCKET2}/copied", back1))
    got = tree(back1) if os.path.isdir(back1) else {}
    L.ok("copy back of the server-side copy: sha256 of every file equals the first sync's",
         got == state1, diff(got, state1))

    # ---- clean up
    ran_ok("purge bucket", rc.run("purge", f"coffer:{BUCKET}"))
    ran_ok("purge bucket2", rc.run("purge", f"coffer:{BUCKET2}"))
    p = rc.run("lsd", "coffer:")
    if ran_ok("lsd coffer: after purge", p):
        names = p.stdout.split()
        L.ok("lsd after purge: both buckets gone", BUCKET not in names and BUCKET2 not in names,
             f"stdout {p.stdout[-300:]!r}")


if __name__ == "__main__":
    sys.exit(main())
