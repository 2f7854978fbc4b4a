// coffer's web console: plain ES modules, no framework. Every request is signed here with
// the keys the user typed in, kept in sessionStorage only.

import { signRequest, presign, sha256Hex, EMPTY_SHA256, UNSIGNED } from "./sigv4.js";

const BASE = "/_coffer/console/";
const ADMIN = "/_coffer/admin/v1";
const PART_SIZE = 8 * 1024 * 1024;
const PAGE_SIZE = 100;
const $ = (id) => document.getElementById(id);

// ------------------------------------------------------------------ DOM helper

/// h("a", {href, onclick}, "text", child...): builds elements; strings become text nodes,
/// so nothing the server returns is ever parsed as HTML.
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function fmtBytes(n) {
  n = Number(n);
  if (!Number.isFinite(n)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

const fmtDate = (s) => (s ? new Date(s).toLocaleString() : "–");

function fmtDuration(secs) {
  secs = Math.floor(Number(secs) || 0);
  const d = Math.floor(secs / 86400), hh = Math.floor((secs % 86400) / 3600), m = Math.floor((secs % 3600) / 60);
  return d ? `${d}d ${hh}h ${m}m` : hh ? `${hh}h ${m}m` : m ? `${m}m ${secs % 60}s` : `${secs}s`;
}

// ------------------------------------------------------------------ session

const SESSION = "coffer.console.creds";
let creds = null;
try {
  creds = JSON.parse(sessionStorage.getItem(SESSION) || "null");
} catch {
  creds = null;
}

// ------------------------------------------------------------------ requests

class ApiError extends Error {
  constructor(status, code, message) {
    super(message ? `${code}: ${message}` : code);
    this.status = status;
    this.code = code;
  }
  get forbidden() {
    return this.status === 403;
  }
}

/// The error in an S3 XML or admin JSON answer.
function errorOf(status, text) {
  try {
    const j = JSON.parse(text);
    if (j && j.error) return new ApiError(status, j.error.code || `HTTP ${status}`, j.error.message || "");
  } catch {
    /* not JSON */
  }
  const doc = text ? new DOMParser().parseFromString(text, "application/xml") : null;
  const code = doc?.getElementsByTagName("Code")[0]?.textContent;
  const msg = doc?.getElementsByTagName("Message")[0]?.textContent;
  if (code) return new ApiError(status, code, msg || "");
  return new ApiError(status, `HTTP ${status}`, status === 403 ? "Access denied" : text.slice(0, 200));
}

/// A signed request to this server. `body` is a string (hashed) or a Blob (unsigned).
async function request(method, path, { query = [], body, headers = {} } = {}) {
  let payloadHash = EMPTY_SHA256;
  if (typeof body === "string") payloadHash = await sha256Hex(body);
  else if (body !== undefined) payloadHash = UNSIGNED;
  const signed = await signRequest(creds, { method, path, query, headers, payloadHash });
  const resp = await fetch(signed.url, { method, headers: signed.headers, body, cache: "no-store", credentials: "omit" });
  if (!resp.ok) throw errorOf(resp.status, await resp.text());
  return resp;
}

const xml = async (resp) => new DOMParser().parseFromString(await resp.text(), "application/xml");
const kids = (el, name) => [...el.children].filter((c) => c.localName === name);
const text = (el, name) => kids(el, name)[0]?.textContent ?? "";

async function admin(method, path, body) {
  const opts = body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } };
  const resp = await request(method, ADMIN + path, opts);
  const t = await resp.text();
  return t ? JSON.parse(t) : {};
}

/// PUT with upload progress, through XMLHttpRequest (fetch reports no upload progress).
async function putWithProgress(path, query, blob, onProgress, headers = {}) {
  const signed = await signRequest(creds, { method: "PUT", path, query, headers, payloadHash: UNSIGNED });
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", signed.url);
    for (const [k, v] of Object.entries(signed.headers)) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(blob.size);
        resolve(xhr.getResponseHeader("ETag"));
      } else reject(errorOf(xhr.status, xhr.responseText || ""));
    };
    xhr.onerror = () => reject(new ApiError(0, "NetworkError", "the upload was interrupted"));
    xhr.send(blob);
  });
}

// ------------------------------------------------------------------ notices

function notify(msg, kind = "error") {
  $("notice-text").textContent = msg instanceof Error ? msg.message : String(msg);
  $("notice").className = `notice ${kind}`;
  $("notice").hidden = false;
}
const clearNotice = () => ($("notice").hidden = true);

function forbiddenNote(what) {
  return h(
    "div",
    { class: "note forbidden", "data-forbidden": "" },
    h("strong", {}, "Not permitted. "),
    `Your key may not ${what}. Ask the server's administrator for a policy that allows it.`,
  );
}

// ------------------------------------------------------------------ routing

function go(url, replace = false) {
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  render();
}

document.addEventListener("click", (e) => {
  const a = e.target.closest("a[data-nav]");
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  go(a.getAttribute("href"));
});
window.addEventListener("popstate", () => render());

const bucketUrl = (bucket, prefix = "", versions = false) =>
  BASE + "b/" + encodeURIComponent(bucket) + "/" + prefix.split("/").map(encodeURIComponent).join("/") + (versions ? "?versions" : "");

function route() {
  const rest = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : "";
  const versions = new URLSearchParams(location.search).has("versions");
  if (rest === "users") return { section: "users" };
  if (rest === "server") return { section: "server" };
  if (rest.startsWith("b/")) {
    const parts = rest.slice(2).split("/");
    const bucket = decodeURIComponent(parts.shift());
    const prefix = parts.map(decodeURIComponent).join("/");
    return { section: "buckets", bucket, prefix, versions };
  }
  return { section: "buckets" };
}

let renderSeq = 0;
async function render() {
  if (!creds) return showLogin();
  $("login").hidden = true;
  $("shell").hidden = false;
  $("who").hidden = false;
  $("who-key").textContent = creds.accessKeyId;
  $("who-region").textContent = creds.region;
  clearNotice();
  const r = route();
  for (const a of document.querySelectorAll("nav.side a")) a.classList.toggle("active", a.dataset.section === r.section);
  const seq = ++renderSeq;
  const view = h("div", { class: "view" }, h("p", { class: "muted" }, "Loading…"));
  $("view").replaceChildren(view);
  let content;
  try {
    if (r.section === "users") content = await usersView();
    else if (r.section === "server") content = await serverView();
    else if (r.bucket) content = await bucketView(r.bucket, r.prefix, r.versions);
    else content = await bucketsView();
  } catch (e) {
    content = h("div", {}, h("p", { class: "error" }, e.message));
  }
  if (seq === renderSeq) $("view").replaceChildren(content);
}

// ------------------------------------------------------------------ login

function showLogin() {
  $("login").hidden = false;
  $("shell").hidden = true;
  $("who").hidden = true;
  $("login-form").accessKeyId.focus();
}

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = e.target;
  const candidate = {
    accessKeyId: f.accessKeyId.value.trim(),
    secretAccessKey: f.secretAccessKey.value,
    region: f.region.value.trim() || "us-east-1",
  };
  const err = $("login-error");
  err.hidden = true;
  const prev = creds;
  creds = candidate;
  try {
    await request("GET", "/"); // ListBuckets proves the key and secret
  } catch (ex) {
    creds = prev;
    // A key that may not list buckets still signs correctly: only refuse bad signatures.
    if (!(ex.forbidden && ex.code === "AccessDenied")) {
      err.textContent = `Sign-in failed: ${ex.message}`;
      err.hidden = false;
      return;
    }
    creds = candidate;
  }
  sessionStorage.setItem(SESSION, JSON.stringify(creds));
  f.secretAccessKey.value = "";
  render();
});

$("sign-out").addEventListener("click", () => {
  sessionStorage.removeItem(SESSION);
  creds = null;
  clearUploads(true);
  history.replaceState(null, "", BASE);
  showLogin();
});
$("notice-close").addEventListener("click", clearNotice);

function clearUploads(all = false) {
  for (const li of $("upload-list").querySelectorAll(all ? "li" : "li[data-done], li[data-failed]")) li.remove();
  $("uploads").hidden = !$("upload-list").children.length;
}
$("uploads-clear").addEventListener("click", () => clearUploads());

// ------------------------------------------------------------------ buckets

async function bucketsView() {
  const doc = await xml(await request("GET", "/"));
  const buckets = [...doc.getElementsByTagName("Bucket")].map((b) => ({ name: text(b, "Name"), created: text(b, "CreationDate") }));
  // Sizes come from the admin API when this key may read it.
  let usage = {};
  try {
    for (const b of (await admin("GET", "/buckets")).buckets || []) usage[b.name] = b;
  } catch {
    usage = null;
  }
  const form = h(
    "form",
    { class: "inline", id: "create-bucket" },
    h("input", { name: "bucket", placeholder: "new-bucket-name", required: true, pattern: "[a-z0-9][a-z0-9.\\-]{1,61}[a-z0-9]", spellcheck: "false", "aria-label": "Bucket name" }),
    h("button", { type: "submit", class: "primary" }, "Create bucket"),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = form.bucket.value.trim();
    const body =
      creds.region === "us-east-1"
        ? undefined
        : `<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>${creds.region}</LocationConstraint></CreateBucketConfiguration>`;
    try {
      await request("PUT", "/" + name, { body });
      go(bucketUrl(name));
    } catch (ex) {
      notify(ex);
    }
  });
  const rows = buckets.map((b) =>
    h(
      "tr",
      { "data-bucket": b.name },
      h("td", {}, h("a", { href: bucketUrl(b.name), "data-nav": true, class: "folder" }, b.name)),
      h("td", {}, fmtDate(b.created)),
      usage ? h("td", { class: "num" }, usage[b.name] ? String(usage[b.name].objects) : "–") : null,
      usage ? h("td", { class: "num" }, usage[b.name] ? fmtBytes(usage[b.name].bytes) : "–") : null,
    ),
  );
  return h(
    "div",
    {},
    h("div", { class: "toolbar" }, h("h1", {}, "Buckets"), form),
    buckets.length
      ? h(
          "table",
          { class: "list", id: "bucket-list" },
          h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Created"), usage ? [h("th", { class: "num" }, "Objects"), h("th", { class: "num" }, "Size")] : null)),
          h("tbody", {}, rows),
        )
      : h("p", { class: "muted empty" }, "No buckets yet."),
  );
}

// ------------------------------------------------------------------ one bucket

function breadcrumbs(bucket, prefix, versions) {
  const parts = prefix.split("/").filter(Boolean);
  const crumbs = [h("a", { href: BASE, "data-nav": true }, "Buckets"), " / ", h("a", { href: bucketUrl(bucket, "", versions), "data-nav": true }, bucket)];
  let acc = "";
  for (const p of parts) {
    acc += p + "/";
    crumbs.push(" / ", h("a", { href: bucketUrl(bucket, acc, versions), "data-nav": true }, p));
  }
  return h("div", { class: "crumbs", id: "crumbs" }, crumbs);
}

async function versioningControl(bucket) {
  const wrap = h("span", { class: "versioning" });
  let status;
  try {
    status = text((await xml(await request("GET", "/" + bucket, { query: [["versioning", ""]] }))).documentElement, "Status") || "Off";
  } catch (e) {
    wrap.append(h("span", { class: "muted" }, e.forbidden ? "Versioning: not permitted" : `Versioning: ${e.code}`));
    return wrap;
  }
  const enabled = status === "Enabled";
  const btn = h("button", { type: "button", id: "toggle-versioning" }, enabled ? "Suspend versioning" : "Enable versioning");
  btn.addEventListener("click", async () => {
    const body = `<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>${enabled ? "Suspended" : "Enabled"}</Status></VersioningConfiguration>`;
    try {
      await request("PUT", "/" + bucket, { query: [["versioning", ""]], body, headers: { "content-type": "application/xml" } });
      render();
    } catch (e) {
      notify(e);
    }
  });
  wrap.append(h("span", { class: "badge", id: "versioning-status" }, `Versioning: ${status}`), btn);
  return wrap;
}

async function downloadObject(bucket, key, versionId) {
  const query = [["response-content-disposition", `attachment; filename="${key.split("/").pop().replace(/["\\]/g, "_")}"`]];
  if (versionId) query.push(["versionId", versionId]);
  const url = await presign(creds, { path: `/${bucket}/${key}`, query });
  const a = h("a", { href: url, download: key.split("/").pop() });
  document.body.append(a);
  a.click();
  a.remove();
}

async function deleteObject(bucket, key, versionId) {
  const label = versionId ? `version ${versionId} of ${key}` : key;
  if (!confirm(`Delete ${label}?`)) return;
  try {
    await request("DELETE", `/${bucket}/${key}`, { query: versionId ? [["versionId", versionId]] : [] });
    notify(`Deleted ${label}`, "ok");
    setTimeout(render, 0);
  } catch (e) {
    notify(e);
  }
}

const pageTokens = new Map(); // bucket/prefix -> stack of continuation tokens (page history)

async function bucketView(bucket, prefix, versions) {
  const where = `${bucket}/${prefix}`;
  const stack = pageTokens.get(where) || [""];
  const token = stack[stack.length - 1];
  const query = [["delimiter", "/"], ["prefix", prefix]];
  let folders = [], objects = [], next = "";
  if (versions) {
    query.push(["versions", ""], ["max-keys", String(PAGE_SIZE)]);
    if (token) {
      const [k, v] = JSON.parse(token);
      query.push(["key-marker", k], ["version-id-marker", v]);
    }
    const doc = (await xml(await request("GET", "/" + bucket, { query }))).documentElement;
    folders = kids(doc, "CommonPrefixes").map((p) => text(p, "Prefix"));
    objects = [...kids(doc, "Version"), ...kids(doc, "DeleteMarker")]
      .map((v) => ({
        key: text(v, "Key"),
        versionId: text(v, "VersionId"),
        latest: text(v, "IsLatest") === "true",
        marker: v.localName === "DeleteMarker",
        size: text(v, "Size"),
        modified: text(v, "LastModified"),
      }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : b.modified.localeCompare(a.modified)));
    if (text(doc, "IsTruncated") === "true") next = JSON.stringify([text(doc, "NextKeyMarker"), text(doc, "NextVersionIdMarker")]);
  } else {
    query.push(["list-type", "2"], ["max-keys", String(PAGE_SIZE)]);
    if (token) query.push(["continuation-token", token]);
    const doc = (await xml(await request("GET", "/" + bucket, { query }))).documentElement;
    folders = kids(doc, "CommonPrefixes").map((p) => text(p, "Prefix"));
    objects = kids(doc, "Contents").map((c) => ({ key: text(c, "Key"), size: text(c, "Size"), modified: text(c, "LastModified") }));
    if (text(doc, "IsTruncated") === "true") next = text(doc, "NextContinuationToken");
  }

  const rows = [];
  for (const f of folders) {
    rows.push(
      h(
        "tr",
        { "data-folder": f },
        h("td", {}, h("a", { href: bucketUrl(bucket, f, versions), "data-nav": true, class: "folder" }, f.slice(prefix.length))),
        h("td", {}),
        h("td", { class: "num" }, "–"),
        h("td", {}, "–"),
        h("td", {}),
      ),
    );
  }
  for (const o of objects) {
    const name = o.key.slice(prefix.length);
    const actions = o.marker
      ? [h("button", { type: "button", class: "link danger", onclick: () => deleteObject(bucket, o.key, o.versionId) }, "Remove marker")]
      : [
          h("button", { type: "button", class: "link", "data-action": "download", onclick: () => downloadObject(bucket, o.key, o.versionId).catch(notify) }, "Download"),
          h("button", { type: "button", class: "link danger", "data-action": "delete", onclick: () => deleteObject(bucket, o.key, o.versionId) }, "Delete"),
        ];
    rows.push(
      h(
        "tr",
        { "data-key": o.key },
        h("td", { class: "file" }, name, o.marker ? h("span", { class: "badge warn" }, "delete marker") : null, versions && o.latest ? h("span", { class: "badge" }, "latest") : null),
        versions ? h("td", {}, h("code", { class: "small" }, o.versionId)) : h("td", {}),
        h("td", { class: "num" }, o.marker ? "–" : fmtBytes(o.size)),
        h("td", {}, fmtDate(o.modified)),
        h("td", { class: "actions" }, actions),
      ),
    );
  }

  const fileInput = h("input", { type: "file", multiple: true, id: "upload-input", class: "visually-hidden" });
  fileInput.addEventListener("change", () => {
    const files = [...fileInput.files];
    fileInput.value = "";
    for (const f of files) uploadFile(bucket, prefix + f.name, f);
  });
  const showVersions = h("label", { class: "check" }, h("input", { type: "checkbox", id: "show-versions", checked: versions }), " Show versions");
  showVersions.firstChild.addEventListener("change", (e) => go(bucketUrl(bucket, prefix, e.target.checked)));

  const pager = h("div", { class: "pager" });
  if (stack.length > 1) {
    pager.append(
      h("button", { type: "button", id: "prev-page", onclick: () => (pageTokens.set(where, stack.slice(0, -1)), render()) }, "← Previous"),
    );
  }
  if (next) {
    pager.append(h("button", { type: "button", id: "next-page", onclick: () => (pageTokens.set(where, [...stack, next]), render()) }, "Next →"));
  }
  const deleteBucket = h("button", { type: "button", class: "danger", id: "delete-bucket" }, "Delete bucket");
  deleteBucket.addEventListener("click", async () => {
    if (!confirm(`Delete the bucket ${bucket}? It must be empty.`)) return;
    try {
      await request("DELETE", "/" + bucket);
      go(BASE);
    } catch (e) {
      notify(e);
    }
  });

  return h(
    "div",
    { "data-bucket-view": bucket },
    breadcrumbs(bucket, prefix, versions),
    h(
      "div",
      { class: "toolbar" },
      h("h1", {}, prefix ? prefix.split("/").filter(Boolean).pop() + "/" : bucket),
      h("span", { class: "spacer" }),
      h("label", { class: "button primary", for: "upload-input" }, "Upload files"),
      fileInput,
    ),
    h("div", { class: "toolbar sub" }, await versioningControl(bucket), showVersions, h("span", { class: "spacer" }), deleteBucket),
    rows.length
      ? h(
          "table",
          { class: "list", id: "object-list" },
          h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, versions ? "Version" : ""), h("th", { class: "num" }, "Size"), h("th", {}, "Last modified"), h("th", {}, ""))),
          h("tbody", {}, rows),
        )
      : h("p", { class: "muted empty" }, prefix ? "This folder is empty." : "This bucket is empty. Upload a file to start."),
    pager,
  );
}

// ------------------------------------------------------------------ uploads

async function uploadFile(bucket, key, file) {
  $("uploads").hidden = false;
  const bar = h("progress", { max: String(file.size || 1), value: "0" });
  const status = h("span", { class: "status" }, "starting…");
  const item = h("li", { "data-upload": key }, h("span", { class: "name" }, key), bar, status);
  $("upload-list").prepend(item);
  const show = (done) => {
    bar.value = done;
    status.textContent = `${fmtBytes(done)} of ${fmtBytes(file.size)} (${file.size ? Math.floor((100 * done) / file.size) : 100}%)`;
  };
  const headers = file.type ? { "content-type": file.type } : {};
  try {
    if (file.size < PART_SIZE) {
      await putWithProgress(`/${bucket}/${key}`, [], file, show, headers);
    } else {
      item.dataset.multipart = "";
      await multipartUpload(bucket, key, file, show, headers);
    }
    item.classList.add("done");
    item.dataset.done = "";
    status.textContent = `done, ${fmtBytes(file.size)}`;
    bar.value = file.size || 1;
    // Show the new object if its folder is on screen.
    const r = route();
    if (r.bucket === bucket && key.startsWith(r.prefix) && !key.slice(r.prefix.length).includes("/")) render();
  } catch (e) {
    item.classList.add("failed");
    item.dataset.failed = "";
    status.textContent = `failed: ${e.message}`;
    notify(`Upload of ${key} failed: ${e.message}`);
  }
}

async function multipartUpload(bucket, key, file, show, headers) {
  const path = `/${bucket}/${key}`;
  const created = (await xml(await request("POST", path, { query: [["uploads", ""]], headers }))).documentElement;
  const uploadId = text(created, "UploadId");
  const count = Math.ceil(file.size / PART_SIZE);
  const loaded = new Array(count).fill(0);
  const etags = new Array(count);
  const report = () => show(loaded.reduce((a, b) => a + b, 0));
  try {
    let nextPart = 0;
    // Two parts in flight: enough to keep the connection busy, gentle on the server.
    const worker = async () => {
      while (nextPart < count) {
        const i = nextPart++;
        const blob = file.slice(i * PART_SIZE, Math.min(file.size, (i + 1) * PART_SIZE));
        etags[i] = await putWithProgress(path, [["partNumber", String(i + 1)], ["uploadId", uploadId]], blob, (n) => {
          loaded[i] = n;
          report();
        });
      }
    };
    await Promise.all([worker(), worker()]);
    const body =
      '<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join("") +
      "</CompleteMultipartUpload>";
    const resp = await request("POST", path, { query: [["uploadId", uploadId]], body, headers: { "content-type": "application/xml" } });
    // CompleteMultipartUpload may answer 200 with an error in the body.
    const doc = await xml(resp);
    if (doc.documentElement.localName === "Error") throw errorOf(500, new XMLSerializer().serializeToString(doc));
  } catch (e) {
    await request("DELETE", path, { query: [["uploadId", uploadId]] }).catch(() => {});
    throw e;
  }
}

// ------------------------------------------------------------------ users

async function usersView() {
  let users;
  try {
    users = (await admin("GET", "/users")).users || [];
  } catch (e) {
    if (e.forbidden) return h("div", {}, h("h1", {}, "Users"), forbiddenNote("manage users, keys or policies"));
    throw e;
  }
  const form = h(
    "form",
    { class: "inline", id: "add-user" },
    h("input", { name: "name", placeholder: "user name", required: true, spellcheck: "false", "aria-label": "User name" }),
    h("button", { type: "submit", class: "primary" }, "Add user"),
  );
  const created = h("div", { id: "new-user" });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const u = await admin("POST", "/users", { name: form.name.value.trim() });
      await render();
      $("view").prepend(
        h(
          "div",
          { class: "note ok", id: "new-user-keys" },
          h("strong", {}, `User ${u.name} added. `),
          "Copy the secret now; it is not shown again.",
          h("dl", {}, h("dt", {}, "Access key ID"), h("dd", {}, h("code", {}, u.access_key_id)), h("dt", {}, "Secret access key"), h("dd", {}, h("code", {}, u.secret_access_key))),
        ),
      );
    } catch (ex) {
      notify(ex);
    }
  });

  const rows = users.map((u) => {
    const policyCell = h("td", {}, (u.policies || []).length ? u.policies.map((p) => h("span", { class: "badge" }, p)) : h("span", { class: "muted" }, "none"));
    const manage = h("button", { type: "button", class: "link", onclick: () => showPolicies(u.name, detail) }, "Policies");
    const keys = h("button", { type: "button", class: "link", onclick: () => showKeys(u.name, detail) }, "Keys");
    const ids = u.access_keys || (u.access_key_id ? [u.access_key_id] : []);
    const keyCell = h(
      "td",
      {},
      ids.length ? h("code", {}, ids[0]) : h("span", { class: "muted" }, "none"),
      ids.length > 1 ? h("span", { class: "muted" }, ` +${ids.length - 1}`) : null,
    );
    const del = h("button", {
      type: "button",
      class: "link danger",
      onclick: async () => {
        if (!confirm(`Remove the user ${u.name} and its keys?`)) return;
        try {
          await admin("DELETE", `/users/${encodeURIComponent(u.name)}`);
          render();
        } catch (e) {
          notify(e);
        }
      },
    }, "Remove");
    return h("tr", { "data-user": u.name }, h("td", {}, u.name), keyCell, policyCell, h("td", { class: "actions" }, keys, manage, del));
  });
  const detail = h("div", { id: "policy-detail" });
  return h(
    "div",
    {},
    h("div", { class: "toolbar" }, h("h1", {}, "Users"), form),
    created,
    h(
      "table",
      { class: "list", id: "user-list" },
      h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Access key"), h("th", {}, "Policies"), h("th", {}, ""))),
      h("tbody", {}, rows),
    ),
    detail,
  );
}

// A user's access keys: list, add (its secret shown once, here) and remove.
async function showKeys(name, into, added) {
  const base = `/users/${encodeURIComponent(name)}/keys`;
  let keys;
  try {
    keys = (await admin("GET", base)).keys || [];
  } catch (e) {
    into.replaceChildren(e.forbidden ? forbiddenNote("read access keys") : h("p", { class: "error" }, e.message));
    return;
  }
  const add = h("button", {
    type: "button",
    class: "primary",
    id: "add-key",
    onclick: async () => {
      try {
        const k = await admin("POST", base, {});
        await showKeys(name, into, k);
      } catch (ex) {
        notify(ex);
      }
    },
  }, "Add key");
  const fresh = added
    ? h(
        "div",
        { class: "note ok", id: "new-key" },
        h("strong", {}, `Key ${added.access_key_id} added. `),
        "Copy the secret now; it is not shown again.",
        h("dl", {}, h("dt", {}, "Access key ID"), h("dd", {}, h("code", {}, added.access_key_id)), h("dt", {}, "Secret access key"), h("dd", {}, h("code", {}, added.secret_access_key))),
      )
    : null;
  into.replaceChildren(
    h(
      "section",
      { class: "card", id: "key-detail" },
      h("h2", {}, `Access keys of ${name}`),
      fresh,
      keys.length
        ? h(
            "table",
            { class: "list", id: "key-list" },
            h("thead", {}, h("tr", {}, h("th", {}, "Access key"), h("th", {}, "Created"), h("th", {}, ""))),
            h(
              "tbody",
              {},
              keys.map((k) =>
                h(
                  "tr",
                  { "data-key": k.access_key_id },
                  h("td", {}, h("code", {}, k.access_key_id)),
                  h("td", {}, new Date(k.created).toLocaleString()),
                  h(
                    "td",
                    { class: "actions" },
                    h("button", {
                      type: "button",
                      class: "link danger",
                      onclick: async () => {
                        if (!confirm(`Remove the key ${k.access_key_id}? Requests it signs fail at once.`)) return;
                        try {
                          await admin("DELETE", `${base}/${encodeURIComponent(k.access_key_id)}`);
                          await showKeys(name, into);
                        } catch (ex) {
                          notify(ex);
                        }
                      },
                    }, "Remove"),
                  ),
                ),
              ),
            ),
          )
        : h("p", { class: "muted" }, "No access keys: this user cannot sign requests."),
      add,
    ),
  );
}

async function showPolicies(name, into) {
  const base = `/users/${encodeURIComponent(name)}/policies`;
  let policies;
  try {
    policies = (await admin("GET", base)).policies || [];
  } catch (e) {
    into.replaceChildren(e.forbidden ? forbiddenNote("read policies") : h("p", { class: "error" }, e.message));
    return;
  }
  const form = h(
    "form",
    { class: "stack", id: "attach-policy" },
    h(
      "label",
      {},
      "Policy ",
      h("input", { name: "policy", list: "builtin-policies", required: true, placeholder: "readwrite, readonly, writeonly, admin or a new name", spellcheck: "false" }),
      h("datalist", { id: "builtin-policies" }, ["readwrite", "readonly", "writeonly", "admin"].map((p) => h("option", { value: p }))),
    ),
    h("label", {}, "Document (JSON, only for a policy of your own)", h("textarea", { name: "document", rows: "6", spellcheck: "false", placeholder: '{"Version":"2012-10-17","Statement":[…]}' })),
    h("button", { type: "submit", class: "primary" }, "Attach"),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const doc = form.document.value.trim();
    try {
      await admin("PUT", `${base}/${encodeURIComponent(form.policy.value.trim())}`, doc ? { document: doc } : {});
      await render();
    } catch (ex) {
      notify(ex);
    }
  });
  into.replaceChildren(
    h(
      "section",
      { class: "card" },
      h("h2", {}, `Policies of ${name}`),
      policies.length
        ? h(
            "ul",
            { class: "policies" },
            policies.map((p) =>
              h(
                "li",
                {},
                h("strong", {}, p.policy),
                " ",
                h("button", {
                  type: "button",
                  class: "link danger",
                  onclick: async () => {
                    try {
                      await admin("DELETE", `${base}/${encodeURIComponent(p.policy)}`);
                      await render();
                    } catch (ex) {
                      notify(ex);
                    }
                  },
                }, "Detach"),
                h("pre", {}, typeof p.document === "string" ? p.document : JSON.stringify(p.document, null, 2)),
              ),
            ),
          )
        : h("p", { class: "muted" }, "No policies: this user reaches only its own buckets and what bucket policies grant."),
      form,
    ),
  );
}

// ------------------------------------------------------------------ server

async function health(which) {
  try {
    const r = await fetch(`/_coffer/health/${which}`, { cache: "no-store", credentials: "omit" });
    return { ok: r.ok, label: r.ok ? "ok" : `HTTP ${r.status}` };
  } catch (e) {
    return { ok: false, label: e.message };
  }
}

async function serverView() {
  const [live, ready] = await Promise.all([health("live"), health("ready")]);
  const healthCard = h(
    "section",
    { class: "card", id: "health" },
    h("h2", {}, "Health"),
    h(
      "dl",
      { class: "grid" },
      h("dt", {}, "Live"),
      h("dd", {}, h("span", { class: `badge ${live.ok ? "good" : "bad"}` }, live.label)),
      h("dt", {}, "Ready"),
      h("dd", {}, h("span", { class: `badge ${ready.ok ? "good" : "bad"}` }, ready.label)),
    ),
  );
  let infoCard;
  try {
    const i = await admin("GET", "/info");
    const s = i.store || {};
    infoCard = h(
      "section",
      { class: "card", id: "info" },
      h("h2", {}, "Server"),
      h(
        "dl",
        { class: "grid" },
        [
          ["Version", i.version],
          ["Uptime", fmtDuration(i.uptime_secs)],
          ["Region", i.region],
          ["Data directory", i.data_dir],
          ["Buckets", s.buckets],
          ["Objects", s.objects],
          ["Object data", fmtBytes(s.blob_bytes)],
          ["Metadata", fmtBytes(s.meta_bytes)],
        ].flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v === undefined ? "–" : String(v))]),
      ),
    );
  } catch (e) {
    infoCard = h("section", { class: "card", id: "info" }, h("h2", {}, "Server"), e.forbidden ? forbiddenNote("read the server's details") : h("p", { class: "error" }, e.message));
  }
  let usageCard;
  try {
    const buckets = (await admin("GET", "/buckets")).buckets || [];
    const quota = (q) => {
      if (!q || (q.max_bytes == null && q.max_objects == null)) return "–";
      return [q.max_bytes != null ? fmtBytes(q.max_bytes) : null, q.max_objects != null ? `${q.max_objects} objects` : null].filter(Boolean).join(", ");
    };
    usageCard = h(
      "section",
      { class: "card", id: "usage" },
      h("h2", {}, "Usage by bucket"),
      h(
        "table",
        { class: "list" },
        h("thead", {}, h("tr", {}, h("th", {}, "Bucket"), h("th", { class: "num" }, "Objects"), h("th", { class: "num" }, "Size"), h("th", { class: "num" }, "Uploads"), h("th", {}, "Quota"))),
        h(
          "tbody",
          {},
          buckets.map((b) =>
            h(
              "tr",
              {},
              h("td", {}, h("a", { href: bucketUrl(b.name), "data-nav": true }, b.name)),
              h("td", { class: "num" }, String(b.objects ?? "–")),
              h("td", { class: "num" }, fmtBytes(b.bytes)),
              h("td", { class: "num" }, String(b.uploads ?? "–")),
              h("td", {}, quota(b.quota)),
            ),
          ),
        ),
      ),
    );
  } catch (e) {
    usageCard = h("section", { class: "card", id: "usage" }, h("h2", {}, "Usage by bucket"), e.forbidden ? forbiddenNote("read usage") : h("p", { class: "error" }, e.message));
  }
  return h("div", {}, h("h1", {}, "Server"), healthCard, infoCard, usageCard);
}

render();
