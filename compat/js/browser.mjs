// Browser lane: a real Chromium (Debian's, driven by playwright-core) uploads files to
// coffer through HTML forms, as a web page would: a SigV4-signed POST policy form, and an
// anonymous form into a bucket whose policy lets anyone write one prefix; then it reads
// the public object back as a page, and a page on another origin reads it with fetch()
// once the bucket's CORS rules allow that origin; last it renders a bucket's static website
// (`<bucket>.web.localhost`). Screenshots go to $COMPAT_ARTIFACTS.
//
// Environment (set by compat/run.sh): COFFER_ENDPOINT, COFFER_ACCESS_KEY_ID,
// COFFER_SECRET_ACCESS_KEY, COFFER_COMPAT_RUN_ID, COMPAT_ARTIFACTS, CHROMIUM (default
// /usr/bin/chromium).

import { createHmac, randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { env, lane, launchChromium } from "./lanelib.mjs";
import {
  S3Client,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteBucketPolicyCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutBucketCorsCommand,
  PutBucketPolicyCommand,
  PutBucketWebsiteCommand,
  PutObjectCommand,
} from "@aws-sdk/client-s3";

const ENDPOINT = env("COFFER_ENDPOINT").replace(/\/+$/, "");
const AK = env("COFFER_ACCESS_KEY_ID");
const SK = env("COFFER_SECRET_ACCESS_KEY");
const RUN_ID = env("COFFER_COMPAT_RUN_ID", randomBytes(3).toString("hex"));
const ARTIFACTS = env("COMPAT_ARTIFACTS", "/tmp/coffer-compat-artifacts");
const BUCKET = `compat-browser-${RUN_ID}`;

const { check, finish } = lane("browser");

const s3 = new S3Client({
  endpoint: ENDPOINT,
  region: "us-east-1",
  forcePathStyle: true,
  credentials: { accessKeyId: AK, secretAccessKey: SK },
});

async function body(key) {
  const r = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from(await r.Body.transformToByteArray());
}

const hmac = (k, d) => createHmac("sha256", k).update(d).digest();

/// The fields of a SigV4 POST policy form for keys under `prefix`.
function signedFields(prefix) {
  const now = new Date();
  const date = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const day = date.slice(0, 8);
  const credential = `${AK}/${day}/us-east-1/s3/aws4_request`;
  const policy = Buffer.from(
    JSON.stringify({
      expiration: new Date(now.getTime() + 10 * 60 * 1000).toISOString(),
      conditions: [
        { bucket: BUCKET },
        ["starts-with", "$key", prefix],
        { success_action_status: "201" },
        ["starts-with", "$Content-Type", "text/"],
        ["content-length-range", 1, 1 << 20],
        { "x-amz-algorithm": "AWS4-HMAC-SHA256" },
        { "x-amz-credential": credential },
        { "x-amz-date": date },
      ],
    }),
  ).toString("base64");
  let key = hmac(`AWS4${SK}`, day);
  for (const part of ["us-east-1", "s3", "aws4_request"]) key = hmac(key, part);
  return {
    key: `${prefix}\${filename}`,
    success_action_status: "201",
    "Content-Type": "text/plain",
    policy,
    "x-amz-algorithm": "AWS4-HMAC-SHA256",
    "x-amz-credential": credential,
    "x-amz-date": date,
    "x-amz-signature": createHmac("sha256", key).update(policy).digest("hex"),
  };
}

function formPage(title, fields) {
  const inputs = Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${k}" value="${v.replace(/"/g, "&quot;")}">`)
    .join("\n");
  return `<!doctype html><html><body><h1>${title}</h1>
<form action="${ENDPOINT}/${BUCKET}" method="post" enctype="multipart/form-data">
${inputs}
<input type="file" name="file"> <input type="submit" value="Upload">
</form></body></html>`;
}

/// Fills the form's file input with `name`/`content`, submits, and returns the response.
async function submit(page, title, fields, name, content) {
  // The previous answer may be an XML document, which cannot be replaced in place.
  await page.goto("about:blank");
  await page.setContent(formPage(title, fields));
  await page.setInputFiles("input[type=file]", { name, mimeType: "text/plain", buffer: Buffer.from(content) });
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.url().startsWith(`${ENDPOINT}/${BUCKET}`) && r.request().method() === "POST"),
    page.click("input[type=submit]"),
  ]);
  await page.waitForLoadState("load").catch(() => {});
  return resp;
}

async function main() {
  mkdirSync(ARTIFACTS, { recursive: true });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();

    // A signed form, as a web app hands its users for direct uploads.
    const signed = "a signed upload from the browser\n";
    let resp = await submit(page, "Signed upload", signedFields("uploads/"), "note.txt", signed);
    check("signed form: 201 Created", resp.status() === 201, `status ${resp.status()}`);
    const xml = await resp.text();
    check("signed form: PostResponse names the key", xml.includes("<Key>uploads/note.txt</Key>"), xml);
    await page.screenshot({ path: join(ARTIFACTS, "browser-signed-upload.png") });
    check("signed form: stored byte for byte", (await body("uploads/note.txt")).equals(Buffer.from(signed)));

    // The policy's conditions hold in the browser too: a key outside the prefix is refused.
    const outside = { ...signedFields("uploads/"), key: "elsewhere/${filename}" };
    resp = await submit(page, "Refused upload", outside, "note.txt", signed);
    check("signed form outside its prefix: 403", resp.status() === 403, `status ${resp.status()}`);
    check("signed form outside its prefix: AccessDenied XML", (await resp.text()).includes("<Code>AccessDenied</Code>"));

    // An anonymous form, into a prefix the bucket's policy lets anyone write and read.
    const policy = {
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Principal: "*",
          Action: ["s3:PutObject", "s3:GetObject"],
          Resource: `arn:aws:s3:::${BUCKET}/drop/*`,
        },
      ],
    };
    await s3.send(new PutBucketPolicyCommand({ Bucket: BUCKET, Policy: JSON.stringify(policy) }));
    const anon = "<p>dropped anonymously</p>\n";
    // The stored type is the form's Content-Type field (not the file part's), as on AWS.
    const anonFields = { key: "drop/${filename}", "Content-Type": "text/html" };
    resp = await submit(page, "Anonymous upload", anonFields, "page.html", anon);
    check("anonymous form: 204 No Content", resp.status() === 204, `status ${resp.status()}`);
    check("anonymous form: stored byte for byte", (await body("drop/page.html")).equals(Buffer.from(anon)));
    resp = await submit(page, "Anonymous upload elsewhere", { key: "private/${filename}" }, "page.html", anon);
    check("anonymous form outside the policy: 403", resp.status() === 403, `status ${resp.status()}`);

    // The public object, opened as a page by an anonymous browser.
    const shown = await page.goto(`${ENDPOINT}/${BUCKET}/drop/page.html`);
    check("public object opens in the browser: 200", shown.status() === 200, `status ${shown.status()}`);
    check("public object: the uploaded text", (await page.content()).includes("dropped anonymously"));
    await page.screenshot({ path: join(ARTIFACTS, "browser-public-object.png") });

    // CORS: a page served from another origin reads the public object with fetch().
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "drop/cors.txt", Body: "read across origins\n" }));
    // The app is a real page from another loopback server: two origins, one per host name.
    const site = createServer((_, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<!doctype html><html><body><h1>app</h1></body></html>");
    });
    await new Promise((ok) => site.listen(0, "127.0.0.1", ok));
    const port = site.address().port;
    const app = `http://127.0.0.1:${port}`;
    const other = `http://localhost:${port}`;
    const tryFetch = (origin, headers = {}) =>
      page.goto(`${origin}/`).then(() =>
        page.evaluate(
          async ([url, headers]) => {
            try {
              const r = await fetch(url, { headers });
              return { ok: true, status: r.status, text: await r.text(), etag: r.headers.get("etag") };
            } catch (e) {
              return { ok: false, error: String(e) };
            }
          },
          [`${ENDPOINT}/${BUCKET}/drop/cors.txt`, headers],
        ),
      );
    let got = await tryFetch(app);
    check("fetch from another origin before CORS rules: refused by the browser", !got.ok, JSON.stringify(got));
    await s3.send(
      new PutBucketCorsCommand({
        Bucket: BUCKET,
        CORSConfiguration: {
          CORSRules: [{ AllowedOrigins: [app], AllowedMethods: ["GET"], AllowedHeaders: ["x-app-*"], ExposeHeaders: ["ETag"] }],
        },
      }),
    );
    got = await tryFetch(app);
    check("fetch from an allowed origin: 200", got.ok && got.status === 200, JSON.stringify(got));
    check("fetch from an allowed origin: the object", got.text === "read across origins\n", JSON.stringify(got));
    check("fetch from an allowed origin: the exposed ETag", typeof got.etag === "string" && got.etag.startsWith('"'), JSON.stringify(got));
    got = await tryFetch(app, { "x-app-trace": "1" });
    check("fetch with a custom header: its preflight passes", got.ok && got.status === 200, JSON.stringify(got));
    got = await tryFetch(app, { "x-other": "1" });
    check("fetch with a header the rule does not allow: refused", !got.ok, JSON.stringify(got));
    got = await tryFetch(other);
    check("fetch from an origin the rules do not name: refused", !got.ok, JSON.stringify(got));
    await page.goto(`${app}/`);
    await page.screenshot({ path: join(ARTIFACTS, "browser-cors-app.png") });
    site.close();

    // A static website: the bucket's pages rendered from its website endpoint.
    const pages = {
      "index.html": '<!doctype html><html><body><h1>home</h1><a id="docs" href="docs/">docs</a></body></html>',
      "docs/index.html": "<!doctype html><html><body><h1>docs</h1></body></html>",
      "404.html": "<!doctype html><html><body><h1>lost</h1></body></html>",
    };
    for (const [Key, Body] of Object.entries(pages)) {
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `site/${Key}`, Body, ContentType: "text/html" }));
    }
    await s3.send(
      new PutBucketPolicyCommand({
        Bucket: BUCKET,
        Policy: JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: `arn:aws:s3:::${BUCKET}/*` }],
        }),
      }),
    );
    await s3.send(
      new PutBucketWebsiteCommand({
        Bucket: BUCKET,
        WebsiteConfiguration: {
          IndexDocument: { Suffix: "index.html" },
          ErrorDocument: { Key: "site/404.html" },
        },
      }),
    );
    const web = `http://${BUCKET}.web.localhost:${new URL(ENDPOINT).port}`;
    let shown2 = await page.goto(`${web}/site/`);
    check("website: the index page renders", shown2.status() === 200 && (await page.textContent("h1")) === "home", `status ${shown2.status()}`);
    await page.screenshot({ path: join(ARTIFACTS, "browser-website-home.png") });
    await Promise.all([page.waitForLoadState("load"), page.click("#docs")]);
    check("website: a link to a folder opens its index", (await page.textContent("h1")) === "docs", page.url());
    shown2 = await page.goto(`${web}/site/docs`);
    check("website: a folder without its slash lands on its index", page.url().endsWith("/site/docs/") && (await page.textContent("h1")) === "docs", page.url());
    shown2 = await page.goto(`${web}/site/nothing.html`);
    check("website: a missing page shows the error document with 404", shown2.status() === 404 && (await page.textContent("h1")) === "lost", `status ${shown2.status()}`);
    await page.screenshot({ path: join(ARTIFACTS, "browser-website-404.png") });
  } finally {
    await browser.close();
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    for (const o of listed.Contents || []) await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: o.Key }));
    await s3.send(new DeleteBucketPolicyCommand({ Bucket: BUCKET }));
    await s3.send(new DeleteBucketCommand({ Bucket: BUCKET }));
  }
}

try {
  await main();
} catch (e) {
  check("lane ran to the end", false, e && e.stack ? e.stack : e);
}
finish();
