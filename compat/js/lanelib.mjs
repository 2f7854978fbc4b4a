// What the JavaScript lanes share: their environment, PASS/FAIL lines and the summary that
// compat/run.sh reads, and Debian's Chromium started the way this machine's closed network
// needs.

export const env = (n, d) => process.env[n] || d;

/// A lane's checks: `check(name, ok, detail)` prints `PASS lane: name` or
/// `FAIL lane: name -- detail` and returns `ok`; `finish()` prints the summary and exits 1
/// if any check failed.
export function lane(name) {
  let passed = 0;
  let failed = 0;
  function check(what, ok, detail = "") {
    if (ok) {
      passed++;
      console.log(`PASS ${name}: ${what}`);
    } else {
      failed++;
      let d = String(detail).replace(/\s+/g, " ");
      if (d.length > 400) d = d.slice(0, 400) + "...";
      console.log(`FAIL ${name}: ${what} -- ${d}`);
    }
    return ok;
  }
  function finish() {
    console.log(`[${name}] lane done: ${passed} checks passed, ${failed} checks failed`);
    process.exit(failed ? 1 : 0);
  }
  return { check, finish };
}

/// Debian's Chromium (CHROMIUM, default /usr/bin/chromium), headless. Without the
/// background-networking flags it tries to reach Google's hosts at every start, and this
/// machine refuses those connections.
export async function launchChromium() {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: env("CHROMIUM", "/usr/bin/chromium"),
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
