// Console lane: a real Chromium (Debian's, driven by playwright-core) uses coffer's
// embedded web console at /_coffer/console/ as a person would: signs in with the root keys,
// creates a bucket, uploads a 20 MiB file (multipart, with a progress bar), browses
// folders and pages, downloads the file and compares its SHA-256, deletes it, turns
// versioning on and looks at versions, reads the users and server pages; then signs in as
// a user without admin rights, who is told the users page is not permitted but can still
// work in a bucket of its own. Screenshots of each page go to $COMPAT_ARTIFACTS/console/.
//
// Environment (set by compat/run.sh): COFFER_ENDPOINT, COFFER_ACCESS_KEY_ID,
// COFFER_SECRET_ACCESS_KEY, COFFER_USER2_ACCESS_KEY_ID, COFFER_USER2_SECRET_ACCESS_KEY,
// COFFER_COMPAT_RUN_ID, COMPAT_ARTIFACTS, CHROMIUM (default /usr/bin/chromium).

import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { env, lane, launchChromium } from "./lanelib.mjs";
import { S3Client, PutObjectCommand } from "@aws-sdk/client-s3";

const ENDPOINT = env("COFFER_ENDPOINT").replace(/\/+$/, "");
const AK = env("COFFER_ACCESS_KEY_ID");
const SK = env("COFFER_SECRET_ACCESS_KEY");
const AK2 = env("COFFER_USER2_ACCESS_KEY_ID");
const SK2 = env("COFFER_USER2_SECRET_ACCESS_KEY");
const RUN_ID = env("COFFER_COMPAT_RUN_ID", randomBytes(3).toString("hex"));
const SHOTS = join(env("COMPAT_ARTIFACTS", "/tmp/coffer-compat-artifacts"), "console");
const CONSOLE = `${ENDPOINT}/_coffer/console/`;
const BUCKET = `console-${RUN_ID}`;
const BUCKET2 = `console-u2-${RUN_ID}`;
const BIG = 20 * 1024 * 1024;

const { check, finish } = lane("console");

/// Runs one step; an exception fails it (and the steps that need it see `false`).
async function step(name, fn) {
  try {
    const r = await fn();
    if (r === undefined || r === true) return check(name, true);
    return check(name, false, r);
  } catch (e) {
    return check(name, false, e && e.stack ? e.stack.split("\n").slice(0, 3).join(" ") : e);
  }
}

const sha256 = (b) => createHash("sha256").update(b).digest("hex");
const shot = (page, name) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

async function signIn(page, ak, sk) {
  await page.fill("#login-form [name=accessKeyId]", ak);
  await page.fill("#login-form [name=secretAccessKey]", sk);
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector("#who:not([hidden])", { timeout: 15000 });
}

async function main() {
  mkdirSync(SHOTS, { recursive: true });
  const browser = await launchChromium();
  const problems = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    const page = await context.newPage();
    page.setDefaultTimeout(20000);
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error" && !/Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    page.on("dialog", (d) => d.accept());

    // ---------------------------------------------------------------- the page itself
    let loaded = await step("GET /_coffer/console redirects to /_coffer/console/ and serves the page", async () => {
      const resp = await page.goto(CONSOLE.slice(0, -1));
      if (page.url() !== CONSOLE) return `landed on ${page.url()}`;
      if (resp.status() !== 200) return `status ${resp.status()}`;
      const hd = resp.headers();
      const csp = hd["content-security-policy"] || "";
      for (const want of ["default-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"]) {
        if (!csp.includes(want)) return `CSP lacks ${want}: ${csp}`;
      }
      if (hd["x-content-type-options"] !== "nosniff") return `nosniff: ${hd["x-content-type-options"]}`;
      if ((hd["x-frame-options"] || "").toUpperCase() !== "DENY") return `x-frame-options: ${hd["x-frame-options"]}`;
      if (!/^text\/html/.test(hd["content-type"] || "")) return `content-type ${hd["content-type"]}`;
      await page.waitForSelector("#login-form", { state: "visible" });
    });
    if (!loaded) return;
    await step("a deep link loads the page too", async () => {
      const r = await page.request.get(`${CONSOLE}b/some-bucket/some/folder/`);
      if (r.status() !== 200 || !(await r.text()).includes('id="login-form"')) return `status ${r.status()}`;
      const js = await page.request.get(`${CONSOLE}app.js`);
      if (!/javascript/.test(js.headers()["content-type"] || "")) return `app.js as ${js.headers()["content-type"]}`;
    });
    await shot(page, "login");

    await step("a wrong secret is refused with the server's error", async () => {
      await page.fill("#login-form [name=accessKeyId]", AK);
      await page.fill("#login-form [name=secretAccessKey]", SK + "x");
      await page.click("#login-form button[type=submit]");
      await page.waitForSelector("#login-error:not([hidden])");
      const t = await page.textContent("#login-error");
      if (!/SignatureDoesNotMatch/.test(t)) return t;
    });

    loaded = await step("root signs in; the header shows the key and the buckets page loads", async () => {
      await signIn(page, AK, SK);
      if ((await page.textContent("#who-key")) !== AK) return `header shows ${await page.textContent("#who-key")}`;
      await page.waitForSelector("#create-bucket");
      const stored = await page.evaluate(() => Object.keys(localStorage).length);
      if (stored) return `${stored} keys in localStorage`;
    });
    if (!loaded) return;

    // ---------------------------------------------------------------- buckets
    const made = await step("create a bucket from the buckets page", async () => {
      await page.fill("#create-bucket [name=bucket]", BUCKET);
      await page.click("#create-bucket button[type=submit]");
      await page.waitForSelector(`[data-bucket-view="${BUCKET}"]`);
      await page.click("#crumbs a >> text=Buckets");
      await page.waitForSelector(`#bucket-list tr[data-bucket="${BUCKET}"]`);
    });
    await shot(page, "buckets");
    if (!made) return;

    // ---------------------------------------------------------------- upload 20 MiB
    const big = randomBytes(BIG);
    await page.click(`#bucket-list tr[data-bucket="${BUCKET}"] a`);
    await page.waitForSelector(`[data-bucket-view="${BUCKET}"] .empty`);
    const requests = [];
    page.on("request", (r) => {
      const u = new URL(r.url());
      if (u.pathname === `/${BUCKET}/big.bin`) requests.push(`${r.method()} ${u.search.replace(/X-Amz-[^&]*&?/g, "")}`);
    });
    // Record every progress text the page shows.
    await page.evaluate(() => {
      window.__progress = [];
      new MutationObserver(() => {
        for (const s of document.querySelectorAll("#upload-list .status")) window.__progress.push(s.textContent);
      }).observe(document.getElementById("upload-list"), { subtree: true, childList: true, characterData: true });
    });
    // Slow the upload down so that the progress bar can be seen moving.
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 8 * 1024 * 1024 });
    const uploaded = await step("upload a 20 MiB file: multipart in 8 MiB parts, with a progress bar", async () => {
      await page.setInputFiles("#upload-input", { name: "big.bin", mimeType: "application/octet-stream", buffer: big });
      await page.waitForSelector('#upload-list li[data-upload="big.bin"][data-multipart]');
      await page.waitForFunction(() => {
        const p = document.querySelector('#upload-list li[data-upload="big.bin"] progress');
        return p && p.value > p.max * 0.25 && p.value < p.max;
      });
      await shot(page, "upload-progress");
      await page.waitForSelector('#upload-list li[data-upload="big.bin"][data-done], #upload-list li[data-upload="big.bin"][data-failed]', { timeout: 60000 });
      const status = await page.textContent('#upload-list li[data-upload="big.bin"] .status');
      if (!/^done/.test(status)) return status;
      const parts = requests.filter((r) => r.startsWith("PUT") && r.includes("partNumber"));
      const creates = requests.filter((r) => r.startsWith("POST") && /uploads/.test(r));
      const completes = requests.filter((r) => r.startsWith("POST") && /uploadId/.test(r));
      if (parts.length !== 3 || creates.length !== 1 || completes.length !== 1) return `requests: ${requests.join(", ")}`;
      const steps = await page.evaluate(() => window.__progress.filter((t) => /\((\d+)%\)/.test(t) && !/\((0|100)%\)/.test(t)));
      if (!steps.length) return "no intermediate progress was shown";
    });
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await shot(page, "upload-done");

    await step("the uploaded file is listed with its size", async () => {
      await page.waitForSelector('#object-list tr[data-key="big.bin"]');
      const size = await page.textContent('#object-list tr[data-key="big.bin"] td.num');
      if (size.trim() !== "20.0 MiB") return `size shows ${size}`;
    });

    // Folders and pages: objects written by another client.
    const s3 = new S3Client({ endpoint: ENDPOINT, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: AK, secretAccessKey: SK } });
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "docs/notes.txt", Body: "hello from the console lane\n" }));
    for (let i = 0; i < 105; i += 15) {
      await Promise.all(
        Array.from({ length: Math.min(15, 105 - i) }, (_, j) =>
          s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `many/item-${String(i + j).padStart(3, "0")}`, Body: "x" })),
        ),
      );
    }
    await page.reload();
    await page.waitForSelector('#object-list tr[data-key="big.bin"]');
    await shot(page, "folder-view");

    await step("folders: open docs/, breadcrumbs lead back", async () => {
      await page.click('#object-list tr[data-folder="docs/"] a');
      await page.waitForSelector('#object-list tr[data-key="docs/notes.txt"]');
      const crumbs = (await page.textContent("#crumbs")).replace(/\s+/g, " ").trim();
      if (crumbs !== `Buckets / ${BUCKET} / docs`) return `crumbs: ${crumbs}`;
      await page.click(`#crumbs a >> text=${BUCKET}`);
      await page.waitForSelector('#object-list tr[data-key="big.bin"]');
    });

    await step("pages: 105 objects show as 100 then 5 with Next and Previous", async () => {
      await page.click('#object-list tr[data-folder="many/"] a');
      await page.waitForSelector('#object-list tr[data-key="many/item-000"]');
      const first = await page.locator("#object-list tr[data-key]").count();
      await page.click("#next-page");
      await page.waitForSelector('#object-list tr[data-key="many/item-104"]');
      const second = await page.locator("#object-list tr[data-key]").count();
      await page.click("#prev-page");
      await page.waitForSelector('#object-list tr[data-key="many/item-000"]');
      if (first !== 100 || second !== 5) return `first page ${first}, second ${second}`;
      await page.click(`#crumbs a >> text=${BUCKET}`);
      await page.waitForSelector('#object-list tr[data-key="big.bin"]');
    });

    // ---------------------------------------------------------------- download, delete
    await step("download the file: same SHA-256 as the upload", async () => {
      const [dl] = await Promise.all([page.waitForEvent("download"), page.click('#object-list tr[data-key="big.bin"] [data-action=download]')]);
      const path = await dl.path();
      const got = readFileSync(path);
      if (dl.suggestedFilename() !== "big.bin") return `suggested name ${dl.suggestedFilename()}`;
      if (got.length !== BIG || sha256(got) !== sha256(big)) return `got ${got.length} bytes, sha256 ${sha256(got)}`;
      if (!uploaded) return "the upload step failed";
    });

    await step("delete the file: it is gone from the listing and from the server", async () => {
      await page.click('#object-list tr[data-key="big.bin"] [data-action=delete]');
      await page.waitForSelector('#object-list tr[data-key="big.bin"]', { state: "detached" });
      await page.reload();
      await page.waitForSelector('#object-list tr[data-folder="docs/"]');
      if (await page.locator('#object-list tr[data-key="big.bin"]').count()) return "still listed after a reload";
      const head = await page.evaluate(async (b) => (await fetch(`/${b}/big.bin`, { method: "HEAD" })).status, BUCKET);
      if (head !== 403 && head !== 404) return `anonymous HEAD answered ${head}`;
    });

    // ---------------------------------------------------------------- versioning
    await step("versioning: enable, upload twice, show versions lists both", async () => {
      await page.click("#toggle-versioning");
      await page.waitForFunction(() => document.querySelector("#versioning-status")?.textContent === "Versioning: Enabled");
      for (const body of ["first\n", "second version\n"]) {
        await page.setInputFiles("#upload-input", { name: "v.txt", mimeType: "text/plain", buffer: Buffer.from(body) });
        await page.waitForSelector('#upload-list li[data-upload="v.txt"][data-done]');
        await page.click("#uploads-clear");
        await page.waitForSelector('#upload-list li[data-upload="v.txt"]', { state: "detached" });
      }
      await page.check("#show-versions");
      await page.waitForFunction(() => document.querySelectorAll('#object-list tr[data-key="v.txt"]').length === 2);
      await shot(page, "versions");
      await page.uncheck("#show-versions");
      await page.waitForSelector('#object-list tr[data-key="v.txt"]');
    });

    // ---------------------------------------------------------------- users, server
    await step("users page (root): lists the users", async () => {
      await page.click("nav.side a[data-section=users]");
      await page.waitForSelector("#user-list, [data-forbidden], #view .error");
      if (!(await page.locator("#user-list").count())) return (await page.textContent("#view")).slice(0, 300);
      if (!(await page.locator('#user-list tr[data-user="compat-user2"]').count())) return "compat-user2 not listed";
    });
    await shot(page, "users");

    await step("users page: add a key to compat-user2 (secret shown once), then remove it", async () => {
      await page.click('#user-list tr[data-user="compat-user2"] button:has-text("Keys")');
      await page.waitForSelector("#key-detail");
      const before = await page.locator("#key-list tbody tr").count();
      await page.click("#add-key");
      await page.waitForSelector("#new-key");
      const id = (await page.textContent("#new-key dd code")).trim();
      if ((await page.locator("#key-list tbody tr").count()) !== before + 1) return "the new key is not listed";
      await shot(page, "user-keys");
      await page.click(`#key-list tr[data-key="${id}"] button.danger`);
      await page.waitForSelector(`#key-list tr[data-key="${id}"]`, { state: "detached" });
      if (await page.locator("#new-key").count()) return "the secret is still shown after a reload of the keys";
    });

    await step("server page: health live and ready, server details", async () => {
      await page.click("nav.side a[data-section=server]");
      await page.waitForSelector("#health");
      const badges = await page.locator("#health .badge.good").count();
      if (badges !== 2) return `health: ${await page.textContent("#health")}`;
      await page.waitForSelector("#info dl, #info .error, #info [data-forbidden]");
      if (!(await page.locator("#info dl").count())) return `info: ${await page.textContent("#info")}`;
    });
    await shot(page, "server");

    // ---------------------------------------------------------------- a user without admin rights
    await step("sign out returns to the sign-in form and forgets the keys", async () => {
      await page.click("#sign-out");
      await page.waitForSelector("#login-form", { state: "visible" });
      const left = await page.evaluate(() => sessionStorage.length);
      if (left) return `${left} items left in sessionStorage`;
    });
    if (!AK2 || !SK2) {
      check("a second user is available", false, "COFFER_USER2_ACCESS_KEY_ID is not set (the harness makes it)");
      return;
    }
    await step("user2 signs in; the users page says not permitted", async () => {
      await signIn(page, AK2, SK2);
      await page.click("nav.side a[data-section=users]");
      await page.waitForSelector("[data-forbidden], #user-list, #view .error");
      if (!(await page.locator("[data-forbidden]").count())) return (await page.textContent("#view")).slice(0, 300);
    });
    await shot(page, "users-not-permitted");
    await step("user2 still works in a bucket of its own: create, upload, list", async () => {
      await page.click("nav.side a[data-section=buckets]");
      await page.waitForSelector("#create-bucket");
      await page.fill("#create-bucket [name=bucket]", BUCKET2);
      await page.click("#create-bucket button[type=submit]");
      await page.waitForSelector(`[data-bucket-view="${BUCKET2}"]`);
      await page.setInputFiles("#upload-input", { name: "mine.txt", mimeType: "text/plain", buffer: Buffer.from("user2's file\n") });
      await page.waitForSelector('#object-list tr[data-key="mine.txt"]');
    });
    await step("user2 sees S3's error for root's bucket", async () => {
      await page.goto(`${CONSOLE}b/${BUCKET}/`);
      await page.waitForSelector("#view .error, #object-list");
      const t = await page.textContent("#view");
      if (!/AccessDenied/.test(t)) return t.slice(0, 300);
    });
    await step("server page for user2: health shown, details not permitted", async () => {
      await page.click("nav.side a[data-section=server]");
      await page.waitForSelector("#info [data-forbidden], #info dl, #info .error");
      if ((await page.locator("#health .badge.good").count()) !== 2) return await page.textContent("#health");
      if (!(await page.locator("#info [data-forbidden]").count())) return await page.textContent("#info");
    });
    check("no script errors or CSP violations on the page", problems.length === 0, problems.join(" | "));
  } finally {
    await browser.close();
  }
}

try {
  await main();
} catch (e) {
  check("console lane ran to the end", false, e && e.stack ? e.stack : e);
}
finish();
