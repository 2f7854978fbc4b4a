"""FUSE mounts for the file-system lanes (s3fs, rclone mount): a daemon started in the
foreground, a mount that must appear within a timeout, file-system work with a timeout
each, and a teardown that never leaves a mount or a daemon behind."""

import os
import shutil
import subprocess
import threading
import time

from botocore.exceptions import ClientError

from lanelib import read_tree, sha

MiB = 1024 * 1024
FS_TIMEOUT = 60     # per file-system step
MOUNT_TIMEOUT = 20  # for the mount to appear, and for an unmount


def run(cmd, timeout=MOUNT_TIMEOUT, env=None):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, -9, "", f"[timed out after {timeout} s]")
    except OSError as e:
        return subprocess.CompletedProcess(cmd, -1, "", f"[could not run: {e}]")


def mounted(path):
    """In the mount table, or `mountpoint -q` says so. A dead FUSE mount (its daemon
    gone) fails `mountpoint`'s stat with ENOTCONN, so the table is read as well."""
    try:
        with open("/proc/self/mounts") as f:
            points = {line.split()[1].replace("\\040", " ") for line in f if len(line.split()) > 1}
        if os.path.realpath(path) in points:
            return True
    except OSError:
        pass
    return run(["mountpoint", "-q", path], timeout=10).returncode == 0


def fuse_usable():
    """None, or why this machine can't mount FUSE file systems."""
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse does not exist (a container needs --device /dev/fuse and CAP_SYS_ADMIN)"
    try:
        os.close(os.open("/dev/fuse", os.O_RDWR))
    except OSError as e:
        return f"cannot open /dev/fuse read-write: {e} (needs root or the fuse group)"
    if os.geteuid() != 0 and not (shutil.which("fusermount3") or shutil.which("fusermount")):
        return "not root and no fusermount to mount as a user"
    return None


class FuseMount:
    """A FUSE daemon (`cmd`, which stays in the foreground) serving `point`, logging to
    `log`; checks are recorded on `lane` under the daemon's `name`."""

    def __init__(self, lane, name, point, log, cmd, env=None):
        self.lane, self.name, self.point, self.log, self.cmd, self.env = lane, name, point, log, cmd, env
        os.makedirs(point, exist_ok=True)
        self.proc = None
        um = shutil.which("fusermount3") or shutil.which("fusermount")
        self.umount = [um, "-u"] if um else ["umount"]
        self.lazy_umount = [um, "-u", "-z"] if um else ["umount", "-l"]

    def log_tail(self):
        try:
            with open(self.log, errors="replace") as f:
                return " | ".join(f.read().strip().splitlines()[-6:])[-400:]
        except OSError:
            return ""

    def mount(self, check):
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         env=self.env, start_new_session=True)
        deadline = time.monotonic() + MOUNT_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return self.lane.fail(check, f"{self.name} exited {self.proc.returncode} before mounting; "
                                             f"log: {self.log_tail()}")
            if mounted(self.point):
                return self.lane.ok(check, True)
            time.sleep(0.1)
        self.teardown()
        return self.lane.fail(check, f"not mounted after {MOUNT_TIMEOUT} s; log: {self.log_tail()}")

    def unmount(self, check):
        """A clean unmount: the mount gone and the daemon exited 0."""
        p = run(self.umount + [self.point])
        rc = None
        if self.proc is not None:
            try:
                rc = self.proc.wait(timeout=MOUNT_TIMEOUT)
            except subprocess.TimeoutExpired:
                rc = "still running"
        ok = p.returncode == 0 and rc == 0 and not mounted(self.point)
        self.lane.ok(check, ok, f"{' '.join(self.umount)} exit {p.returncode} {p.stderr.strip()[-200:]!r}; "
                                f"{self.name} exit {rc}; log: {self.log_tail()}")
        if not ok:
            self.teardown()
        self.proc = None
        return ok

    def teardown(self, hung=False):
        """Never leave a mount or a daemon behind. hung: the daemon stopped answering, so
        kill it first (its mount then fails every call) and detach the mount."""
        if self.proc is not None and self.proc.poll() is None:
            if not hung and mounted(self.point):
                run(self.umount + [self.point])
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
            if self.proc.poll() is None:
                self.proc.kill()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
        if mounted(self.point):
            run(self.lazy_umount + [self.point])
        self.proc = None

    def fs(self, check, fn):
        """Run fn (file-system work on the mount) in a thread with a timeout: its result,
        or None after recording a failure. A hung step tears the mount down (which makes
        the stuck calls fail) so nothing is left waiting."""
        box = {}

        def target():
            try:
                box["value"] = fn()
            except BaseException as e:  # noqa: BLE001 - recorded as the step's failure
                box["error"] = e

        t = threading.Thread(target=target, daemon=True)
        t.start()
        t.join(FS_TIMEOUT)
        if t.is_alive():
            self.lane.fail(check, f"timed out after {FS_TIMEOUT} s; {self.name} log: {self.log_tail()}")
            self.teardown(hung=True)
            t.join(5)
            return None
        if "error" in box:
            e = box["error"]
            self.lane.fail(check, f"{type(e).__name__}: {e}; {self.name} log: {self.log_tail()}")
            return None
        self.lane.ok(check, True)
        return box.get("value", True)

    def check_tree(self, check, want):
        """Read every file under the mount (one fs step) and compare it, names and sha256,
        with want ({relative path: bytes})."""
        got = self.fs("read every file back through the mount", lambda: read_tree(self.point))
        if got is not None:
            self.lane.eq(check, got, {k: sha(v) for k, v in want.items()})


def write_file(path, data, chunk=MiB):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        for i in range(0, len(data), chunk):
            f.write(data[i:i + chunk])
        f.flush()
        os.fsync(f.fileno())


def bucket_objects(s3, bucket):
    """{key: listing entry} of every object in bucket."""
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for o in page.get("Contents", []):
            out[o["Key"]] = o
    return out


def check_bucket(lane, s3, bucket, check, want, dirs_ok=False, settle=0):
    """Every file of want ({key: bytes}) is an object of that size and those bytes (sha256),
    and nothing else is listed, but directory objects (`dir/`) when dirs_ok. settle: seconds
    to wait for a mount that uploads after close, in the background, to get there. Returns
    the listing."""
    def files(got):
        return {k: o["Size"] for k, o in got.items() if not (dirs_ok and k.endswith("/"))}

    sizes = {k: len(v) for k, v in want.items()}
    deadline = time.monotonic() + settle
    got = bucket_objects(s3, bucket)
    while files(got) != sizes and time.monotonic() < deadline:
        time.sleep(0.2)
        got = bucket_objects(s3, bucket)
    lane.eq(f"{check}: objects listed, with their sizes", files(got), sizes)
    for key, data in sorted(want.items()):
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as e:
            lane.fail(f"{check}: {key} bytes (sha256)", str(e))
            continue
        lane.eq(f"{check}: {key} bytes (sha256)", sha(body), sha(data))
    return got
