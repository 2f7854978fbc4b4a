"""Tiny check recorder shared by the Python compat lanes.

Every check prints one line:

    PASS <lane>: <name>
    FAIL <lane>: <name> -- <detail>

compat/run.sh counts those lines across all lanes, so a check is exactly one
PASS or FAIL line. A lane exits 1 if any check failed.

A check that fails because of a known, reported server bug may instead print

    XFAIL <lane>: <name> -- <detail>

which counts as neither; a lane records it only on the exact failure it
expects (anything else is a FAIL), and passes the check once the bug is fixed.
"""

import contextlib
import hashlib
import os
import sys
import traceback


def env(name, default=None, required=True):
    value = os.environ.get(name, default)
    if required and not value:
        print(f"missing environment variable {name}", file=sys.stderr)
        sys.exit(2)
    return value


class Lane:
    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0
        self.xfailed = 0

    def _emit(self, ok, check, detail=""):
        if ok:
            self.passed += 1
            print(f"PASS {self.name}: {check}", flush=True)
        else:
            self.failed += 1
            detail = " ".join(str(detail).split())
            if len(detail) > 400:
                detail = detail[:400] + "..."
            print(f"FAIL {self.name}: {check} -- {detail}", flush=True)
        return ok

    def ok(self, check, cond, detail=""):
        return self._emit(bool(cond), check, detail or "condition was false")

    def fail(self, check, detail):
        return self._emit(False, check, detail)

    def xfail(self, check, detail):
        """A known server bug, reported: printed, counted as neither pass nor fail."""
        self.xfailed += 1
        detail = " ".join(str(detail).split())
        if len(detail) > 600:
            detail = detail[:600] + "..."
        print(f"XFAIL {self.name}: {check} -- {detail}", flush=True)

    def eq(self, check, got, want):
        return self._emit(got == want, check, f"got {got!r}, want {want!r}")

    def nonempty(self, check, value):
        return self._emit(
            isinstance(value, (str, bytes)) and len(value.strip()) > 0,
            check,
            f"got {value!r}, want a non-empty string",
        )

    @contextlib.contextmanager
    def step(self, check):
        """Run a block; an exception in it is recorded as one failed check.

        Checks recorded inside the block stand on their own; the step itself
        only records a FAIL when the block raises (so a crash is never silent).
        """
        try:
            yield
        except Exception as e:  # noqa: BLE001 - any failure is a failed check
            tb = traceback.format_exception_only(type(e), e)[-1].strip()
            self.fail(f"{check} (raised)", tb)

    def finish(self):
        xfailed = f", {self.xfailed} expected failures" if self.xfailed else ""
        print(
            f"[{self.name}] lane done: {self.passed} checks passed, "
            f"{self.failed} checks failed{xfailed}",
            flush=True,
        )
        return 1 if self.failed else 0


def watchdog(lane, deadline, interrupt=None, grace=20):
    """Bounds a lane whose client can hang in native code: after `deadline` seconds, one
    failed check, then `interrupt()` (if given) and `grace` more seconds before exiting;
    without `interrupt`, exit at once."""
    import os
    import threading

    def bail():
        lane.finish()
        os._exit(1)

    def fire():
        lane.fail("lane finished in time", f"still running after {deadline} s (a request hung?)")
        if interrupt is None:
            bail()
        interrupt()
        threading.Timer(grace, bail).start()

    t = threading.Timer(deadline, fire)
    t.daemon = True
    t.start()


def root_s3(endpoint, ak, sk):
    """A boto3 client for a lane's own setup and checks beside the tool it tests:
    path-style, one attempt (a retry must not hide a failed request), bounded waits."""
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ak, aws_secret_access_key=sk,
                        region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                      connect_timeout=10, read_timeout=60))


def sha(data):
    return hashlib.sha256(data).hexdigest()


def read_tree(root):
    """{relative path with `/`: sha256} of every file below root, to compare a tree a
    client wrote or fetched with the bytes that went in."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            with open(full, "rb") as f:
                out[os.path.relpath(full, root).replace(os.sep, "/")] = sha(f.read())
    return out
