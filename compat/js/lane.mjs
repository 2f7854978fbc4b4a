// @aws-sdk/client-s3 (v3) compatibility lane for coffer.
//
// Environment (set by compat/run.sh):
//   COFFER_ENDPOINT, COFFER_ACCESS_KEY_ID, COFFER_SECRET_ACCESS_KEY,
//   COFFER_USER2_ACCESS_KEY_ID, COFFER_USER2_SECRET_ACCESS_KEY, COFFER_COMPAT_RUN_ID
//
// Prints one `PASS js: <check>` / `FAIL js: <check> -- <detail>` line per
// check and exits 1 if any check failed. Error-code checks use only
// GET/PUT/POST/DELETE operations: for HEAD the SDK has no body to read and
// synthesizes errors such as NotFound.

import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { isDeepStrictEqual, inspect } from "node:util";
import {
  S3Client,
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { lane } from "./lanelib.mjs";

function need(name, required = true) {
  const v = process.env[name];
  if (required && !v) {
    console.error(`missing environment variable ${name}`);
    process.exit(2);
  }
  return v || "";
}

const ENDPOINT = need("COFFER_ENDPOINT").replace(/\/+$/, "");
const ROOT_AK = need("COFFER_ACCESS_KEY_ID");
const ROOT_SK = need("COFFER_SECRET_ACCESS_KEY");
const USER2_AK = need("COFFER_USER2_ACCESS_KEY_ID", false);
const USER2_SK = need("COFFER_USER2_SECRET_ACCESS_KEY", false);
const RUN_ID = need("COFFER_COMPAT_RUN_ID", false) || randomBytes(3).toString("hex");

const BUCKET = `compat-js-${RUN_ID}`;
const LIST_BUCKET = `compat-js-list-${RUN_ID}`;
const MISSING_BUCKET = `compat-js-missing-${RUN_ID}`;
const BODY = Buffer.from("0123456789");
const BODY_MD5 = createHash("md5").update(BODY).digest("hex");
const META = { color: "blue", owner: "compat-lane" };

// ---------------------------------------------------------------- checks
const { check, finish } = lane("js");

function show(v) {
  return inspect(v, { depth: 4, breakLength: Infinity });
}

const record = (ok, name, detail) => check(name, ok, detail);
const ok = (name, cond, detail = "condition was false") => record(Boolean(cond), name, detail);
const eq = (name, got, want) => record(isDeepStrictEqual(got, want), name, `got ${show(got)}, want ${show(want)}`);
const nonempty = (name, v) =>
  record(typeof v === "string" && v.trim().length > 0, name, `got ${show(v)}, want a non-empty string`);

async function step(name, fn) {
  try {
    await fn();
  } catch (e) {
    record(false, `${name} (raised)`, `${e?.name}: ${e?.message}`);
  }
}

// ---------------------------------------------------------------- clients
// Each client remembers the raw status/headers/body of its last error
// response: the SDK drops the XML body's RequestId after parsing.
function makeClient(ak = ROOT_AK, sk = ROOT_SK, { anonymous = false } = {}) {
  const client = new S3Client({
    region: "us-east-1",
    endpoint: ENDPOINT,
    forcePathStyle: true,
    credentials: { accessKeyId: ak || "anonymous", secretAccessKey: sk || "anonymous" },
    maxAttempts: 1,
  });
  client.lastRaw = null;
  client.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      const res = result.response;
      if (res && res.statusCode >= 300) {
        const chunks = [];
        if (res.body) for await (const c of res.body) chunks.push(Buffer.from(c));
        const buf = Buffer.concat(chunks);
        client.lastRaw = { status: res.statusCode, headers: { ...res.headers }, body: buf };
        res.body = Readable.from([buf]);
      }
      return result;
    },
    { step: "deserialize", priority: "low", name: "compatCaptureRawError" },
  );
  if (anonymous) {
    // No credentials at all: strip what the signer added.
    client.middlewareStack.addRelativeTo(
      (next) => async (args) => {
        for (const h of Object.keys(args.request.headers)) {
          if (["authorization", "x-amz-date", "x-amz-security-token"].includes(h.toLowerCase())) {
            delete args.request.headers[h];
          }
        }
        return next(args);
      },
      { relation: "after", toMiddleware: "httpSigningMiddleware", name: "compatAnonymous" },
    );
  }
  return client;
}

function parseErrorXml(buf) {
  const text = buf.toString("utf8");
  if (!/<Error[\s>]/.test(text)) return null;
  const out = {};
  for (const tag of ["Code", "Message", "Resource", "RequestId"]) {
    const m = text.match(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`));
    if (m) out[tag] = m[1];
  }
  return out;
}

async function expectError(label, client, fn, code, status, resource) {
  client.lastRaw = null;
  let err;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  if (!err) return record(false, `${label}: error ${code}`, "call succeeded, an error was expected");
  if (!err.$metadata) return record(false, `${label}: error ${code}`, `non-service error ${err.name}: ${err.message}`);
  eq(`${label}: error.name`, err.name, code);
  eq(`${label}: $metadata.httpStatusCode`, err.$metadata.httpStatusCode, status);
  nonempty(`${label}: error.message non-empty`, err.message);
  const raw = client.lastRaw;
  if (!ok(`${label}: raw response captured`, raw, "capture middleware saw no error response")) return;
  const hdrReqId = raw.headers["x-amz-request-id"];
  ok(
    `${label}: $metadata.requestId == x-amz-request-id header`,
    Boolean(hdrReqId) && err.$metadata.requestId === hdrReqId,
    `requestId ${show(err.$metadata.requestId)}, header ${show(hdrReqId)}`,
  );
  ok(
    `${label}: $metadata.extendedRequestId present (== x-amz-id-2)`,
    Boolean(raw.headers["x-amz-id-2"]) && err.$metadata.extendedRequestId === raw.headers["x-amz-id-2"],
    `extendedRequestId ${show(err.$metadata.extendedRequestId)}, header ${show(raw.headers["x-amz-id-2"])}`,
  );
  const ctype = (raw.headers["content-type"] || "").split(";")[0].trim().toLowerCase();
  eq(`${label}: Content-Type application/xml`, ctype, "application/xml");
  const doc = parseErrorXml(raw.body);
  if (!ok(`${label}: body is an <Error> document`, doc, `body ${show(raw.body.toString().slice(0, 300))}`)) return;
  eq(`${label}: body Code`, doc.Code, code);
  nonempty(`${label}: body Message non-empty`, doc.Message);
  if (resource === undefined || resource === null) nonempty(`${label}: body Resource non-empty`, doc.Resource);
  else eq(`${label}: body Resource`, doc.Resource, resource);
  ok(
    `${label}: body RequestId == x-amz-request-id header`,
    Boolean(doc.RequestId) && doc.RequestId === hdrReqId,
    `body ${show(doc.RequestId)}, header ${show(hdrReqId)}`,
  );
}

// A one-shot middleware on a single command, run just before signing.
function beforeSigning(command, name, fn) {
  command.middlewareStack.addRelativeTo(
    (next) => async (args) => {
      fn(args.request);
      return next(args);
    },
    { relation: "before", toMiddleware: "httpSigningMiddleware", name },
  );
  return command;
}

function deleteHeaders(request, pred) {
  for (const h of Object.keys(request.headers)) if (pred(h.toLowerCase())) delete request.headers[h];
}

const md5 = (b) => createHash("md5").update(b).digest();
const text = async (r) => Buffer.from(await r.Body.transformToByteArray());

// ---------------------------------------------------------------- lanes
async function basics(s3) {
  await step("CreateBucket", async () => {
    const r = await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    eq("CreateBucket: status 200", r.$metadata.httpStatusCode, 200);
    nonempty("CreateBucket: requestId on success", r.$metadata.requestId);
    nonempty("CreateBucket: extendedRequestId on success", r.$metadata.extendedRequestId);
  });
  await step("HeadBucket", async () => {
    const r = await s3.send(new HeadBucketCommand({ Bucket: BUCKET }));
    eq("HeadBucket: status 200", r.$metadata.httpStatusCode, 200);
  });
  await step("ListBuckets", async () => {
    const r = await s3.send(new ListBucketsCommand({}));
    const names = (r.Buckets || []).map((b) => b.Name);
    ok("ListBuckets: contains bucket", names.includes(BUCKET), `got ${show(names)}`);
  });
  await step("PutObject", async () => {
    const r = await s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: "hello.txt", Body: BODY, ContentType: "text/plain", Metadata: META }),
    );
    eq("PutObject: status 200", r.$metadata.httpStatusCode, 200);
    eq("PutObject: ETag", r.ETag, `"${BODY_MD5}"`);
  });
  await step("GetObject", async () => {
    const r = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "hello.txt" }));
    eq("GetObject: body", (await text(r)).toString(), BODY.toString());
    eq("GetObject: ContentType", r.ContentType, "text/plain");
    eq("GetObject: ContentLength", r.ContentLength, BODY.length);
    eq("GetObject: Metadata", r.Metadata, META);
    eq("GetObject: ETag", r.ETag, `"${BODY_MD5}"`);
  });
  await step("HeadObject", async () => {
    const r = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "hello.txt" }));
    eq("HeadObject: ContentLength", r.ContentLength, BODY.length);
    eq("HeadObject: ContentType", r.ContentType, "text/plain");
    eq("HeadObject: Metadata", r.Metadata, META);
  });
  for (const [range, want, cr] of [
    ["bytes=0-4", "01234", "bytes 0-4/10"],
    ["bytes=-3", "789", "bytes 7-9/10"],
    ["bytes=5-", "56789", "bytes 5-9/10"],
  ]) {
    await step(`GetObject Range ${range}`, async () => {
      const r = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "hello.txt", Range: range }));
      eq(`range ${range}: status 206`, r.$metadata.httpStatusCode, 206);
      eq(`range ${range}: body`, (await text(r)).toString(), want);
      eq(`range ${range}: ContentRange`, r.ContentRange, cr);
    });
  }
  await step("CopyObject", async () => {
    const r = await s3.send(
      new CopyObjectCommand({ Bucket: BUCKET, Key: "copy.txt", CopySource: `${BUCKET}/hello.txt` }),
    );
    eq("CopyObject: CopyObjectResult.ETag", r.CopyObjectResult?.ETag, `"${BODY_MD5}"`);
    const g = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "copy.txt" }));
    eq("CopyObject: body", (await text(g)).toString(), BODY.toString());
    eq("CopyObject: metadata copied", g.Metadata, META);
  });
  await step("DeleteObjects", async () => {
    for (const k of ["del-1", "del-2", "del-3"]) await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: k, Body: k }));
    const r = await s3.send(
      new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: [{ Key: "del-1" }, { Key: "del-2" }] } }),
    );
    eq("DeleteObjects: Deleted keys", (r.Deleted || []).map((d) => d.Key).sort(), ["del-1", "del-2"]);
    eq("DeleteObjects: no Errors", r.Errors || [], []);
    const q = await s3.send(
      new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: [{ Key: "del-3" }], Quiet: true } }),
    );
    eq("DeleteObjects quiet: no Deleted", q.Deleted || [], []);
    const l = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "del-" }));
    eq("DeleteObjects: all gone", (l.Contents || []).map((o) => o.Key), []);
  });
  await step("conditional PutObject", async () => {
    const r = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "cond.txt", Body: "first", IfNoneMatch: "*" }));
    eq("conditional put: first succeeds", r.$metadata.httpStatusCode, 200);
  });
  await expectError(
    "PreconditionFailed (PutObject If-None-Match: * on existing key)",
    s3,
    () => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "cond.txt", Body: "second", IfNoneMatch: "*" })),
    "PreconditionFailed",
    412,
    `/${BUCKET}/cond.txt`,
  );
  await step("multipart upload", async () => {
    const p1 = randomBytes(5 * 1024 * 1024);
    const p2 = randomBytes(2048);
    const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: "mp.bin" }));
    nonempty("multipart: UploadId", up.UploadId);
    const r1 = await s3.send(
      new UploadPartCommand({ Bucket: BUCKET, Key: "mp.bin", UploadId: up.UploadId, PartNumber: 1, Body: p1 }),
    );
    const r2 = await s3.send(
      new UploadPartCommand({ Bucket: BUCKET, Key: "mp.bin", UploadId: up.UploadId, PartNumber: 2, Body: p2 }),
    );
    const c = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: "mp.bin",
        UploadId: up.UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: r1.ETag }, { PartNumber: 2, ETag: r2.ETag }] },
      }),
    );
    ok("multipart: ETag ends with -2", /-2"?$/.test(c.ETag || ""), `got ${show(c.ETag)}`);
    const g = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "mp.bin" }));
    ok("multipart: body round trip", Buffer.concat([p1, p2]).equals(await text(g)), "body differs");
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "mp.bin" }));
  });
}

async function listing(s3) {
  const keys = ["a/1", "a/2", "a/b/3", "b/4", "c"];
  await step("listing setup", async () => {
    await s3.send(new CreateBucketCommand({ Bucket: LIST_BUCKET }));
    for (const k of keys) await s3.send(new PutObjectCommand({ Bucket: LIST_BUCKET, Key: k, Body: k }));
  });
  const ks = (r) => (r.Contents || []).map((o) => o.Key);
  const ps = (r) => (r.CommonPrefixes || []).map((p) => p.Prefix);
  await step("ListObjectsV2", async () => {
    let r = await s3.send(new ListObjectsV2Command({ Bucket: LIST_BUCKET }));
    eq("ListObjectsV2: keys", ks(r), keys);
    r = await s3.send(new ListObjectsV2Command({ Bucket: LIST_BUCKET, Prefix: "a/", Delimiter: "/" }));
    eq("ListObjectsV2 prefix+delimiter: Contents", ks(r), ["a/1", "a/2"]);
    eq("ListObjectsV2 prefix+delimiter: CommonPrefixes", ps(r), ["a/b/"]);
    const pages = [];
    let token;
    for (let i = 0; i < 10; i++) {
      r = await s3.send(new ListObjectsV2Command({ Bucket: LIST_BUCKET, MaxKeys: 2, ContinuationToken: token }));
      pages.push(ks(r));
      token = r.NextContinuationToken;
      if (!r.IsTruncated || !token) break;
    }
    eq("ListObjectsV2 MaxKeys=2 pagination", pages, [["a/1", "a/2"], ["a/b/3", "b/4"], ["c"]]);
  });
  await step("ListObjects v1", async () => {
    const r = await s3.send(new ListObjectsCommand({ Bucket: LIST_BUCKET, Marker: "a/2" }));
    eq("ListObjects Marker=a/2", ks(r), ["a/b/3", "b/4", "c"]);
  });
}

async function errors(s3) {
  const B = BUCKET;
  await step("error setup", async () => {
    await s3.send(new PutObjectCommand({ Bucket: B, Key: "keep.txt", Body: "keep" }));
  });

  if (USER2_AK && USER2_SK) {
    const u2 = makeClient(USER2_AK, USER2_SK);
    await expectError("AccessDenied (user2 GetObject on root's object)", u2,
      () => u2.send(new GetObjectCommand({ Bucket: B, Key: "hello.txt" })), "AccessDenied", 403, `/${B}/hello.txt`);
    await expectError("AccessDenied (user2 PutObject into root's bucket)", u2,
      () => u2.send(new PutObjectCommand({ Bucket: B, Key: "intruder", Body: "x" })), "AccessDenied", 403, `/${B}/intruder`);
    await expectError("BucketAlreadyExists (user2 CreateBucket on root's bucket name)", u2,
      () => u2.send(new CreateBucketCommand({ Bucket: B })), "BucketAlreadyExists", 409, `/${B}`);
  } else {
    record(false, "second user credentials", "COFFER_USER2_* not set; user2 checks skipped");
  }

  const anon = makeClient("", "", { anonymous: true });
  await expectError("AccessDenied (anonymous GetObject)", anon,
    () => anon.send(new GetObjectCommand({ Bucket: B, Key: "hello.txt" })), "AccessDenied", 403, `/${B}/hello.txt`);

  await expectError("BucketAlreadyOwnedByYou (root re-creates own bucket)", s3,
    () => s3.send(new CreateBucketCommand({ Bucket: B })), "BucketAlreadyOwnedByYou", 409, `/${B}`);
  await expectError("BucketNotEmpty (DeleteBucket non-empty)", s3,
    () => s3.send(new DeleteBucketCommand({ Bucket: B })), "BucketNotEmpty", 409, `/${B}`);

  const unknown = makeClient("AKIACOMPATUNKNOWN0002", "not-a-real-secret-key-0000000000000000");
  await expectError("InvalidAccessKeyId (unknown key ListObjectsV2)", unknown,
    () => unknown.send(new ListObjectsV2Command({ Bucket: B })), "InvalidAccessKeyId", 403, `/${B}`);

  await expectError("InvalidArgument (UploadPart PartNumber=10001, bogus UploadId)", s3,
    () => s3.send(new UploadPartCommand({ Bucket: B, Key: "mp-bogus", UploadId: "bogus-upload-id", PartNumber: 10001, Body: "x" })),
    "InvalidArgument", 400, `/${B}/mp-bogus`);

  await expectError("InvalidBucketName (CreateBucket 'bad..bucket')", s3,
    () => s3.send(new CreateBucketCommand({ Bucket: "bad..bucket" })), "InvalidBucketName", 400, "/bad..bucket");

  await expectError("InvalidRange (bytes=100-200 on 10-byte object)", s3,
    () => s3.send(new GetObjectCommand({ Bucket: B, Key: "hello.txt", Range: "bytes=100-200" })),
    "InvalidRange", 416, `/${B}/hello.txt`);

  // MalformedXML: replace the serialized DeleteObjects body before signing.
  const badXml = Buffer.from("<Delete><Object><Key>keep.txt</Key></Object");
  await expectError("MalformedXML (DeleteObjects with truncated XML, body swapped before signing)", s3,
    () => s3.send(beforeSigning(new DeleteObjectsCommand({ Bucket: B, Delete: { Objects: [{ Key: "keep.txt" }] } }),
      "compatMalformedXml", (req) => {
        deleteHeaders(req, (h) => h.startsWith("x-amz-checksum-") || h === "x-amz-sdk-checksum-algorithm" ||
          h === "content-md5" || h === "content-length");
        req.body = badXml;
        req.headers["content-md5"] = md5(badXml).toString("base64");
        req.headers["content-length"] = String(badXml.length);
      })),
    "MalformedXML", 400, `/${B}`);
  await step("MalformedXML: object survived", async () => {
    const g = await s3.send(new GetObjectCommand({ Bucket: B, Key: "keep.txt" }));
    eq("MalformedXML: keep.txt not deleted", (await text(g)).toString(), "keep");
  });

  // MissingContentLength: same PutObject, but chunked with no Content-Length.
  await expectError("MissingContentLength (PutObject sent chunked without Content-Length)", s3,
    () => s3.send(beforeSigning(new PutObjectCommand({ Bucket: B, Key: "chunked.txt", Body: Buffer.from("chunked body") }),
      "compatChunked", (req) => {
        deleteHeaders(req, (h) => h === "content-length");
        req.headers["transfer-encoding"] = "chunked";
      })),
    "MissingContentLength", 411, `/${B}/chunked.txt`);
  await step("MissingContentLength: no object created", async () => {
    let status = 200;
    try {
      await s3.send(new HeadObjectCommand({ Bucket: B, Key: "chunked.txt" }));
    } catch (e) {
      status = e.$metadata?.httpStatusCode;
    }
    eq("MissingContentLength: object not created (HEAD 404)", status, 404);
  });

  await expectError("NoSuchBucket (ListObjectsV2 missing bucket)", s3,
    () => s3.send(new ListObjectsV2Command({ Bucket: MISSING_BUCKET })), "NoSuchBucket", 404, `/${MISSING_BUCKET}`);
  await expectError("NoSuchBucket (PutObject into missing bucket)", s3,
    () => s3.send(new PutObjectCommand({ Bucket: MISSING_BUCKET, Key: "k", Body: "x" })), "NoSuchBucket", 404, null);
  await expectError("NoSuchKey (GetObject missing key)", s3,
    () => s3.send(new GetObjectCommand({ Bucket: B, Key: "no/such/key" })), "NoSuchKey", 404, `/${B}/no/such/key`);
  await expectError("NoSuchUpload (AbortMultipartUpload bogus id)", s3,
    () => s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: "mp-bogus", UploadId: "bogus-upload-id" })),
    "NoSuchUpload", 404, `/${B}/mp-bogus`);

  const wrong = makeClient(ROOT_AK, ROOT_SK + "x");
  await expectError("SignatureDoesNotMatch (right key, wrong secret, GetObject)", wrong,
    () => wrong.send(new GetObjectCommand({ Bucket: B, Key: "hello.txt" })), "SignatureDoesNotMatch", 403, `/${B}/hello.txt`);
}

async function cleanup(s3) {
  for (const bucket of [BUCKET, LIST_BUCKET]) {
    await step(`cleanup ${bucket}`, async () => {
      const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
      for (const o of r.Contents || []) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key }));
      const d = await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
      eq(`DeleteBucket ${bucket}: 204`, d.$metadata.httpStatusCode, 204);
    });
  }
}

const s3 = makeClient();
await basics(s3);
await listing(s3);
await errors(s3);
await cleanup(s3);
finish();
