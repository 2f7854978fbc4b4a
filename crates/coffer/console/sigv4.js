// AWS Signature Version 4 for the console, on WebCrypto (crypto.subtle needs a secure
// context: https, or http on 127.0.0.1 / localhost).

const enc = new TextEncoder();
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
export const UNSIGNED = "UNSIGNED-PAYLOAD";

const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");

export async function sha256Hex(data) {
  const bytes = typeof data === "string" ? enc.encode(data) : data;
  return hex(await crypto.subtle.digest("SHA-256", bytes));
}

async function hmac(key, data) {
  const k = await crypto.subtle.importKey(
    "raw",
    typeof key === "string" ? enc.encode(key) : key,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return crypto.subtle.sign("HMAC", k, enc.encode(data));
}

/// RFC 3986 encoding as SigV4 wants it: everything but unreserved characters.
export function uriEncode(s, keepSlash = false) {
  const e = encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
  return keepSlash ? e.replace(/%2F/g, "/") : e;
}

/// A path such as `/bucket/some key` in its encoded (and canonical) form.
export const encodePath = (path) => uriEncode(path, true);

function canonicalQuery(query) {
  return query
    .map(([k, v]) => [uriEncode(k), uriEncode(v ?? "")])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
}

const amzDate = (d) => d.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");

async function signingKey(secret, day, region, service) {
  let key = await hmac("AWS4" + secret, day);
  for (const part of [region, service, "aws4_request"]) key = await hmac(key, part);
  return key;
}

/**
 * Signs a request. `creds` is {accessKeyId, secretAccessKey, region}; `path` is the
 * unencoded path (`/bucket/key`); `query` a list of [name, value] pairs; `headers` extra
 * headers to sign (lower-case names); `payloadHash` the body's SHA-256 in hex or
 * UNSIGNED-PAYLOAD. Returns {url, headers}: the URL to request (relative to the origin)
 * and the headers to send (without Host, which the browser sets to `host`).
 */
export async function signRequest(creds, { method, path, query = [], headers = {}, payloadHash = EMPTY_SHA256, host = location.host, now = new Date() }) {
  const date = amzDate(now);
  const day = date.slice(0, 8);
  const all = { ...headers, host, "x-amz-date": date, "x-amz-content-sha256": payloadHash };
  const names = Object.keys(all).map((n) => n.toLowerCase()).sort();
  const lower = Object.fromEntries(Object.entries(all).map(([k, v]) => [k.toLowerCase(), String(v).trim().replace(/\s+/g, " ")]));
  const signedHeaders = names.join(";");
  const qs = canonicalQuery(query);
  const canonical = [method, encodePath(path), qs, names.map((n) => `${n}:${lower[n]}\n`).join(""), signedHeaders, payloadHash].join("\n");
  const scope = `${day}/${creds.region}/s3/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", date, scope, await sha256Hex(canonical)].join("\n");
  const signature = hex(await hmac(await signingKey(creds.secretAccessKey, day, creds.region, "s3"), toSign));
  const out = { ...headers, "x-amz-date": date, "x-amz-content-sha256": payloadHash };
  out.authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return { url: encodePath(path) + (qs ? "?" + qs : ""), headers: out };
}

/// A presigned URL (query-string authentication) for a GET, valid `expires` seconds.
export async function presign(creds, { method = "GET", path, query = [], expires = 300, host = location.host, now = new Date() }) {
  const date = amzDate(now);
  const day = date.slice(0, 8);
  const scope = `${day}/${creds.region}/s3/aws4_request`;
  const q = [
    ...query,
    ["X-Amz-Algorithm", "AWS4-HMAC-SHA256"],
    ["X-Amz-Credential", `${creds.accessKeyId}/${scope}`],
    ["X-Amz-Date", date],
    ["X-Amz-Expires", String(expires)],
    ["X-Amz-SignedHeaders", "host"],
  ];
  const qs = canonicalQuery(q);
  const canonical = [method, encodePath(path), qs, `host:${host}\n`, "host", UNSIGNED].join("\n");
  const toSign = ["AWS4-HMAC-SHA256", date, scope, await sha256Hex(canonical)].join("\n");
  const signature = hex(await hmac(await signingKey(creds.secretAccessKey, day, creds.region, "s3"), toSign));
  return `${encodePath(path)}?${qs}&X-Amz-Signature=${signature}`;
}
