//! ListObjectsV2, ListObjects (V1), ListBuckets, GetBucketLocation and HeadBucket through
//! aws-sdk-s3: prefixes, delimiters, paging, encoding, owners.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::EncodingType;

use crate::common::*;

/// Keys whose UTF-8 byte order differs from naive orders: `a/` sorts before `a0` ('/' is
/// 0x2F, '0' 0x30), `a/` is both a key and the start of a common prefix, 'é' and CJK sort
/// after ASCII, and U+FF5E sorts before U+1F600 in UTF-8 (but after it in UTF-16).
const KEYS: &[&str] = &[
    "a/",
    "a/b",
    "a/c/d",
    "a/c/e",
    "a0",
    "b",
    "c/x",
    "c/y/z",
    "plus+key",
    "space key",
    "z",
    "é",
    "日本/x",
    "日本/y",
    "\u{FF5E}tilde",
    "\u{1F600}smile",
    "zz/1",
    "zz/2",
];

async fn setup(name: &str, keys: &[&str]) -> (Server, Client, String) {
    let (s, c, b) = with_bucket(name).await;
    fill(&c, &b, keys).await;
    (s, c, b)
}

async fn fill(c: &Client, b: &str, keys: &[&str]) {
    let puts = keys.iter().map(|k| {
        c.put_object()
            .bucket(b)
            .key(*k)
            .body(ByteStream::from(k.as_bytes().to_vec()))
            .send()
    });
    for r in futures::future::join_all(puts).await {
        r.unwrap();
    }
}

/// What S3 lists for `prefix` and `delimiter`: keys and common prefixes, each in UTF-8
/// byte order.
fn expected(keys: &[&str], prefix: &str, delimiter: Option<&str>) -> (Vec<String>, Vec<String>) {
    let mut sorted: Vec<&str> = keys.iter().copied().filter(|k| k.starts_with(prefix)).collect();
    sorted.sort();
    let mut out_keys = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    for k in sorted {
        match delimiter.and_then(|d| k[prefix.len()..].find(d).map(|i| prefix.len() + i + d.len())) {
            Some(end) => {
                if prefixes.last().map(String::as_str) != Some(&k[..end]) {
                    prefixes.push(k[..end].to_owned());
                }
            }
            None => out_keys.push(k.to_owned()),
        }
    }
    (out_keys, prefixes)
}

fn keys_of(out: &aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output) -> Vec<String> {
    out.contents().iter().map(|o| o.key().unwrap().to_owned()).collect()
}

fn prefixes_of(p: &[aws_sdk_s3::types::CommonPrefix]) -> Vec<String> {
    p.iter().map(|p| p.prefix().unwrap().to_owned()).collect()
}

/// Pages through ListObjectsV2 with continuation tokens; returns every key and common
/// prefix in the order received, checking each page on the way.
async fn list_all_v2(
    c: &Client,
    b: &str,
    prefix: Option<&str>,
    delimiter: Option<&str>,
    max_keys: i32,
) -> (Vec<String>, Vec<String>) {
    let (mut keys, mut prefixes) = (Vec::new(), Vec::new());
    let mut token: Option<String> = None;
    for _page in 0..1000 {
        let out = c
            .list_objects_v2()
            .bucket(b)
            .set_prefix(prefix.map(str::to_owned))
            .set_delimiter(delimiter.map(str::to_owned))
            .max_keys(max_keys)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        let (k, p) = (keys_of(&out), prefixes_of(out.common_prefixes()));
        assert_eq!(out.key_count(), Some((k.len() + p.len()) as i32), "KeyCount");
        assert!(k.len() + p.len() <= max_keys as usize, "page larger than max-keys");
        assert_eq!(out.max_keys(), Some(max_keys));
        assert_eq!(out.continuation_token(), token.as_deref());
        keys.extend(k);
        prefixes.extend(p);
        if out.is_truncated() == Some(true) {
            token = Some(out.next_continuation_token().expect("NextContinuationToken").to_owned());
        } else {
            assert_eq!(out.is_truncated(), Some(false));
            assert_eq!(out.next_continuation_token(), None);
            return (keys, prefixes);
        }
    }
    panic!("listing never ended");
}

/// Pages through ListObjects (V1) with markers: NextMarker when the page has one (S3
/// returns it with a delimiter), else the last key.
async fn list_all_v1(
    c: &Client,
    b: &str,
    prefix: Option<&str>,
    delimiter: Option<&str>,
    max_keys: i32,
) -> (Vec<String>, Vec<String>) {
    let (mut keys, mut prefixes) = (Vec::new(), Vec::new());
    let mut marker: Option<String> = None;
    for _page in 0..1000 {
        let out = c
            .list_objects()
            .bucket(b)
            .set_prefix(prefix.map(str::to_owned))
            .set_delimiter(delimiter.map(str::to_owned))
            .max_keys(max_keys)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        let k: Vec<String> = out.contents().iter().map(|o| o.key().unwrap().to_owned()).collect();
        let p = prefixes_of(out.common_prefixes());
        assert!(k.len() + p.len() <= max_keys as usize, "page larger than max-keys");
        assert_eq!(out.marker().unwrap_or(""), marker.as_deref().unwrap_or(""));
        let last_key = k.last().cloned();
        keys.extend(k);
        prefixes.extend(p);
        if out.is_truncated() == Some(true) {
            let next = match delimiter {
                Some(_) => out.next_marker().expect("NextMarker with a delimiter").to_owned(),
                None => out.next_marker().map(str::to_owned).or(last_key).expect("a key"),
            };
            marker = Some(next);
        } else {
            assert_eq!(out.is_truncated(), Some(false));
            return (keys, prefixes);
        }
    }
    panic!("listing never ended");
}

fn owned(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

// ---------------------------------------------------------------------------------------
// ListObjectsV2

#[tokio::test]
async fn list_v2_prefix_and_delimiter() {
    let (_s, c, b) = setup("v2delim", KEYS).await;
    let out = c.list_objects_v2().bucket(&b).delimiter("/").send().await.unwrap();
    assert_eq!(
        keys_of(&out),
        owned(&[
            "a0",
            "b",
            "plus+key",
            "space key",
            "z",
            "é",
            "\u{FF5E}tilde",
            "\u{1F600}smile"
        ])
    );
    assert_eq!(prefixes_of(out.common_prefixes()), owned(&["a/", "c/", "zz/", "日本/"]));
    assert_eq!(out.key_count(), Some(12));
    assert_eq!(out.delimiter(), Some("/"));
    assert_eq!(out.is_truncated(), Some(false));

    let out = c
        .list_objects_v2()
        .bucket(&b)
        .prefix("a/")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    assert_eq!(keys_of(&out), owned(&["a/", "a/b"]), "the prefix itself is a key");
    assert_eq!(prefixes_of(out.common_prefixes()), owned(&["a/c/"]));
    assert_eq!(out.prefix(), Some("a/"));
    assert_eq!(out.key_count(), Some(3));

    // A prefix without a delimiter lists everything under it.
    let out = c.list_objects_v2().bucket(&b).prefix("a").send().await.unwrap();
    assert_eq!(keys_of(&out), owned(&["a/", "a/b", "a/c/d", "a/c/e", "a0"]));
    assert!(out.common_prefixes().is_empty());
    // Non-ASCII prefix.
    let out = c.list_objects_v2().bucket(&b).prefix("日本/").send().await.unwrap();
    assert_eq!(keys_of(&out), owned(&["日本/x", "日本/y"]));
    // A prefix nothing has.
    let out = c.list_objects_v2().bucket(&b).prefix("nope").send().await.unwrap();
    assert_eq!(out.key_count(), Some(0));
    assert!(out.contents().is_empty());
    // A delimiter other than '/'.
    let out = c.list_objects_v2().bucket(&b).delimiter("0").send().await.unwrap();
    assert_eq!(prefixes_of(out.common_prefixes()), owned(&["a0"]));
    assert!(!keys_of(&out).contains(&"a0".to_owned()));
}

#[tokio::test]
async fn list_v2_lists_every_key_in_utf8_byte_order() {
    let (_s, c, b) = setup("v2order", KEYS).await;
    let out = c.list_objects_v2().bucket(&b).send().await.unwrap();
    let (want, _) = expected(KEYS, "", None);
    assert_eq!(keys_of(&out), want);
    // Every entry carries its size, ETag and storage class.
    for o in out.contents() {
        let k = o.key().unwrap();
        assert_eq!(o.size(), Some(k.len() as i64), "{k}");
        assert!(o.e_tag().is_some_and(|e| e.len() == 34), "{k}: {:?}", o.e_tag());
        assert!(o.last_modified().is_some());
        assert_eq!(o.storage_class().map(|s| s.as_str()), Some("STANDARD"));
    }
}

#[tokio::test]
async fn list_v2_paging_collects_every_key_exactly_once() {
    let (_s, c, b) = setup("v2paging", KEYS).await;
    let (want, _) = expected(KEYS, "", None);
    for max in [1, 2, 3, 7, 1000] {
        let (keys, prefixes) = list_all_v2(&c, &b, None, None, max).await;
        assert_eq!(keys, want, "max-keys {max}");
        assert!(prefixes.is_empty());
    }
    // Within a prefix.
    let (want, _) = expected(KEYS, "a", None);
    let (keys, _) = list_all_v2(&c, &b, Some("a"), None, 2).await;
    assert_eq!(keys, want);
}

#[tokio::test]
async fn list_v2_paging_with_delimiter_returns_each_prefix_once() {
    let mut keys: Vec<String> = Vec::new();
    for p in ["p", "q", "r"] {
        for i in 0..4 {
            keys.push(format!("{p}/{i}"));
        }
    }
    keys.extend(["o", "p0", "q/", "s"].map(String::from));
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let (_s, c, b) = setup("v2delimpaging", &refs).await;
    let (want_keys, want_prefixes) = expected(&refs, "", Some("/"));
    assert_eq!(want_prefixes, owned(&["p/", "q/", "r/"]));
    for max in [1, 2, 3, 1000] {
        let (k, p) = list_all_v2(&c, &b, None, Some("/"), max).await;
        assert_eq!(k, want_keys, "max-keys {max}");
        assert_eq!(p, want_prefixes, "max-keys {max}");
    }
    // Under a prefix, with the prefix's own sub-prefixes.
    let (k, p) = list_all_v2(&c, &b, Some("q"), Some("/"), 1).await;
    assert!(k.is_empty(), "{k:?}");
    assert_eq!(p, owned(&["q/"]));
}

#[tokio::test]
async fn list_v2_start_after() {
    let (_s, c, b) = setup("v2startafter", KEYS).await;
    let (all, _) = expected(KEYS, "", None);
    for after in ["a0", "a/", "a/c", "space key", "m", "é", "\u{1F600}smile", ""] {
        let out = c.list_objects_v2().bucket(&b).start_after(after).send().await.unwrap();
        let want: Vec<String> = all.iter().filter(|k| k.as_str() > after).cloned().collect();
        assert_eq!(keys_of(&out), want, "start-after {after:?}");
        if !after.is_empty() {
            assert_eq!(out.start_after(), Some(after));
        }
    }
    // start-after with paging: the token takes over after the first page.
    let mut got = Vec::new();
    let mut token = None;
    loop {
        let out = c
            .list_objects_v2()
            .bucket(&b)
            .start_after("b")
            .max_keys(3)
            .set_continuation_token(token)
            .send()
            .await
            .unwrap();
        got.extend(keys_of(&out));
        token = out.next_continuation_token().map(str::to_owned);
        if out.is_truncated() != Some(true) {
            break;
        }
    }
    let want: Vec<String> = all.iter().filter(|k| k.as_str() > "b").cloned().collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn list_v2_encoding_type_url() {
    let keys = ["foo+1/bar", "foo/bar/xyzzy", "quux ab/thud", "asdf+b", "a key", "é"];
    let (s, c, b) = setup("v2encoding", &keys).await;
    let out = c
        .list_objects_v2()
        .bucket(&b)
        .delimiter("/")
        .encoding_type(EncodingType::Url)
        .send()
        .await
        .unwrap();
    assert_eq!(out.encoding_type(), Some(&EncodingType::Url));
    assert_eq!(keys_of(&out), owned(&["a%20key", "asdf%2Bb", "%C3%A9"]));
    assert_eq!(
        prefixes_of(out.common_prefixes()),
        owned(&["foo%2B1/", "foo/", "quux%20ab/"])
    );
    // Without encoding the keys come back verbatim.
    let out = c.list_objects_v2().bucket(&b).prefix("quux ab/").send().await.unwrap();
    assert_eq!(keys_of(&out), owned(&["quux ab/thud"]));
    // On the wire, and for V1 too.
    let r = s
        .raw(
            "GET",
            &format!("/{b}"),
            &[("encoding-type", "url"), ("prefix", "quux ab/")],
            &[],
            b"",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    assert!(text.contains("<Key>quux%20ab/thud</Key>"), "{text}");
    assert!(text.contains("<EncodingType>url</EncodingType>"), "{text}");
    assert_eq!(xml_field(&text, "Prefix").as_deref(), Some("quux%20ab/"), "{text}");
}

/// An empty delimiter is no delimiter: nothing rolls up, and none is echoed.
#[tokio::test]
async fn an_empty_delimiter_is_treated_as_absent() {
    let (s, c, b) = setup("emptydelim", &["a/b", "a/c", "d"]).await;
    let out = c.list_objects_v2().bucket(&b).delimiter("").send().await.unwrap();
    assert_eq!(keys_of(&out), owned(&["a/b", "a/c", "d"]));
    assert!(out.common_prefixes().is_empty());
    assert_eq!(out.delimiter(), None);
    for (path, query) in [
        (format!("/{b}"), vec![("delimiter", "")]),
        (format!("/{b}"), vec![("delimiter", ""), ("versions", "")]),
    ] {
        let r = s.raw("GET", &path, &query, &[], b"").await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(!r.text().contains("<Delimiter>"), "{}", r.text());
    }
}

/// ListObjectVersions and ListMultipartUploads encode what they list too (boto3 asks for
/// `url` on every call and decodes the answer: unencoded keys came back altered).
#[tokio::test]
async fn version_and_upload_listings_honour_encoding_type_url() {
    let keys = ["asdf+b", "quux ab/thud"];
    let (_s, c, b) = setup("verencoding", &keys).await;
    let out = c
        .list_object_versions()
        .bucket(&b)
        .encoding_type(EncodingType::Url)
        .send()
        .await
        .unwrap();
    let listed: Vec<_> = out.versions().iter().filter_map(|v| v.key()).collect();
    assert_eq!(listed, ["asdf%2Bb", "quux%20ab/thud"]);
    let out = c
        .list_object_versions()
        .bucket(&b)
        .delimiter("/")
        .encoding_type(EncodingType::Url)
        .send()
        .await
        .unwrap();
    let prefixes: Vec<_> = out.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(prefixes, ["quux%20ab/"]);
    c.create_multipart_upload()
        .bucket(&b)
        .key("up load+1")
        .send()
        .await
        .unwrap();
    let out = c
        .list_multipart_uploads()
        .bucket(&b)
        .encoding_type(EncodingType::Url)
        .send()
        .await
        .unwrap();
    let listed: Vec<_> = out.uploads().iter().filter_map(|u| u.key()).collect();
    assert_eq!(listed, ["up%20load%2B1"]);
    let out = c.list_multipart_uploads().bucket(&b).send().await.unwrap();
    let listed: Vec<_> = out.uploads().iter().filter_map(|u| u.key()).collect();
    assert_eq!(listed, ["up load+1"]);
}

#[tokio::test]
async fn list_v2_fetch_owner() {
    let (s, c, b) = setup("v2owner", &["k"]).await;
    let root_id = c
        .list_buckets()
        .send()
        .await
        .unwrap()
        .owner()
        .unwrap()
        .id()
        .unwrap()
        .to_owned();
    assert!(!root_id.is_empty());
    let out = c.list_objects_v2().bucket(&b).send().await.unwrap();
    assert!(out.contents()[0].owner().is_none(), "no owner unless fetch-owner");
    let out = c.list_objects_v2().bucket(&b).fetch_owner(true).send().await.unwrap();
    let owner = out.contents()[0].owner().expect("owner with fetch-owner");
    assert_eq!(owner.id(), Some(root_id.as_str()));
    // A user's bucket shows the user as owner.
    let (key, secret) = s.add_user("olivia").await;
    let olivia = s.client_as(&key, &secret);
    let ob = bucket("olivia");
    olivia.create_bucket().bucket(&ob).send().await.unwrap();
    fill(&olivia, &ob, &["mine"]).await;
    let olivia_id = olivia
        .list_buckets()
        .send()
        .await
        .unwrap()
        .owner()
        .unwrap()
        .id()
        .unwrap()
        .to_owned();
    assert_ne!(olivia_id, root_id);
    let out = olivia
        .list_objects_v2()
        .bucket(&ob)
        .fetch_owner(true)
        .send()
        .await
        .unwrap();
    let owner = out.contents()[0].owner().unwrap();
    assert_eq!(owner.id(), Some(olivia_id.as_str()));
}

#[tokio::test]
async fn empty_bucket_and_max_keys_zero() {
    let (_s, c, b) = setup("emptylist", &[]).await;
    let out = c.list_objects_v2().bucket(&b).send().await.unwrap();
    assert_eq!(out.key_count(), Some(0));
    assert!(out.contents().is_empty());
    assert!(out.common_prefixes().is_empty());
    assert_eq!(out.is_truncated(), Some(false));
    assert_eq!(out.name(), Some(b.as_str()));
    assert_eq!(out.max_keys(), Some(1000));
    let out = c.list_objects().bucket(&b).send().await.unwrap();
    assert!(out.contents().is_empty());
    assert_eq!(out.is_truncated(), Some(false));

    fill(&c, &b, &["bar", "baz", "foo", "quxx"]).await;
    let out = c.list_objects_v2().bucket(&b).max_keys(0).send().await.unwrap();
    assert_eq!(out.key_count(), Some(0));
    assert!(out.contents().is_empty());
    assert_eq!(out.max_keys(), Some(0));
    assert_eq!(out.is_truncated(), Some(false));
    let out = c.list_objects().bucket(&b).max_keys(0).send().await.unwrap();
    assert!(out.contents().is_empty());
    assert_eq!(out.is_truncated(), Some(false));
    // max-keys above 1000 is capped at 1000.
    let out = c.list_objects_v2().bucket(&b).max_keys(5000).send().await.unwrap();
    assert_eq!(out.max_keys(), Some(1000));
    assert_eq!(out.key_count(), Some(4));
    // A continuation token the server never issued.
    check_sdk_error(
        c.list_objects_v2()
            .bucket(&b)
            .continuation_token("not-a-token")
            .send()
            .await,
        400,
        "InvalidArgument",
        &format!("/{b}"),
    );
    // A missing bucket.
    check_sdk_error(
        c.list_objects().bucket("bkt-missing").send().await,
        404,
        "NoSuchBucket",
        "/bkt-missing",
    );
}

// ---------------------------------------------------------------------------------------
// ListObjects (V1)

#[tokio::test]
async fn list_v1_prefix_delimiter_and_owner() {
    let (_s, c, b) = setup("v1", KEYS).await;
    let root_id = c
        .list_buckets()
        .send()
        .await
        .unwrap()
        .owner()
        .unwrap()
        .id()
        .unwrap()
        .to_owned();
    let out = c.list_objects().bucket(&b).delimiter("/").send().await.unwrap();
    let keys: Vec<&str> = out.contents().iter().map(|o| o.key().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "a0",
            "b",
            "plus+key",
            "space key",
            "z",
            "é",
            "\u{FF5E}tilde",
            "\u{1F600}smile"
        ]
    );
    assert_eq!(prefixes_of(out.common_prefixes()), owned(&["a/", "c/", "zz/", "日本/"]));
    assert_eq!(out.name(), Some(b.as_str()));
    assert_eq!(out.max_keys(), Some(1000));
    // V1 always names the owner.
    assert_eq!(out.contents()[0].owner().and_then(|o| o.id()), Some(root_id.as_str()));
    let out = c
        .list_objects()
        .bucket(&b)
        .prefix("a/c/")
        .marker("a/c/d")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = out.contents().iter().map(|o| o.key().unwrap()).collect();
    assert_eq!(keys, ["a/c/e"]);
}

#[tokio::test]
async fn list_v1_marker_paging_collects_every_key_once() {
    let (_s, c, b) = setup("v1paging", KEYS).await;
    let (want, _) = expected(KEYS, "", None);
    for max in [1, 2, 5, 1000] {
        let (keys, prefixes) = list_all_v1(&c, &b, None, None, max).await;
        assert_eq!(keys, want, "max-keys {max}");
        assert!(prefixes.is_empty());
    }
    for max in [1, 2, 3] {
        let (want_k, want_p) = expected(KEYS, "", Some("/"));
        let (k, p) = list_all_v1(&c, &b, None, Some("/"), max).await;
        assert_eq!(k, want_k, "max-keys {max}");
        assert_eq!(p, want_p, "max-keys {max}");
    }
}

#[tokio::test]
async fn list_v1_next_marker_on_a_common_prefix_skips_the_whole_prefix() {
    // After ceph's s3-tests test_bucket_list_delimiter_prefix, which matches AWS.
    let keys = ["asdf", "boo/bar", "boo/baz/xyzzy", "cquux/thud", "cquux/bla"];
    let (_s, c, b) = setup("v1nextmarker", &keys).await;
    let page = |marker: &str| {
        c.list_objects()
            .bucket(&b)
            .delimiter("/")
            .max_keys(1)
            .marker(marker)
            .send()
    };
    let out = page("").await.unwrap();
    assert_eq!(
        out.contents().iter().map(|o| o.key().unwrap()).collect::<Vec<_>>(),
        ["asdf"]
    );
    assert!(out.common_prefixes().is_empty());
    assert_eq!(out.is_truncated(), Some(true));
    assert_eq!(out.next_marker(), Some("asdf"));
    let out = page("asdf").await.unwrap();
    assert!(out.contents().is_empty());
    assert_eq!(prefixes_of(out.common_prefixes()), owned(&["boo/"]));
    assert_eq!(out.is_truncated(), Some(true));
    assert_eq!(out.next_marker(), Some("boo/"));
    let out = page("boo/").await.unwrap();
    assert!(out.contents().is_empty());
    assert_eq!(prefixes_of(out.common_prefixes()), owned(&["cquux/"]));
    assert_eq!(out.is_truncated(), Some(false));
    assert_eq!(out.next_marker(), None);
}

// ---------------------------------------------------------------------------------------
// Buckets

#[tokio::test]
async fn list_buckets_shows_a_user_only_its_own() {
    let s = Server::start();
    let root = s.client();
    for b in ["bkt-root-1", "bkt-root-2"] {
        root.create_bucket().bucket(b).send().await.unwrap();
    }
    let (k, sec) = s.add_user("ursula").await;
    let ursula = s.client_as(&k, &sec);
    ursula.create_bucket().bucket("bkt-ursula").send().await.unwrap();
    let (k, sec) = s.add_user("victor").await;
    let victor = s.client_as(&k, &sec);

    let names = |out: &aws_sdk_s3::operation::list_buckets::ListBucketsOutput| {
        out.buckets()
            .iter()
            .map(|b| b.name().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let out = ursula.list_buckets().send().await.unwrap();
    assert_eq!(names(&out), ["bkt-ursula"]);
    let ursula_id = out.owner().unwrap().id().unwrap().to_owned();
    assert!(out.buckets()[0].creation_date().is_some());

    let out = victor.list_buckets().send().await.unwrap();
    assert!(out.buckets().is_empty(), "{:?}", names(&out));
    assert_ne!(out.owner().unwrap().id(), Some(ursula_id.as_str()));

    // Root administers every bucket, in name order.
    let out = root.list_buckets().send().await.unwrap();
    assert_eq!(names(&out), ["bkt-root-1", "bkt-root-2", "bkt-ursula"]);
}

#[tokio::test]
async fn get_bucket_location_is_empty_for_us_east_1() {
    let s = Server::start();
    let c = s.client();
    let b = bucket("location");
    c.create_bucket().bucket(&b).send().await.unwrap();
    let out = c.get_bucket_location().bucket(&b).send().await.unwrap();
    assert_eq!(out.location_constraint().map(|l| l.as_str()).unwrap_or(""), "");
    let r = s.raw("GET", &format!("/{b}"), &[("location", "")], &[], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("LocationConstraint"), "{}", r.text());
    assert!(!r.text().contains("ListBucketResult"), "{}", r.text());
    check_sdk_error(
        c.get_bucket_location().bucket("bkt-missing").send().await,
        404,
        "NoSuchBucket",
        "/bkt-missing",
    );
}

/// Every bucket's owner pays (s3cmd info reads it); Requester Pays is refused, not stored.
#[tokio::test]
async fn request_payment_is_the_bucket_owners() {
    use aws_sdk_s3::types::{Payer, RequestPaymentConfiguration};
    let s = Server::start();
    let c = s.client();
    let b = bucket("payer");
    c.create_bucket().bucket(&b).send().await.unwrap();
    let payer = |p: Payer| RequestPaymentConfiguration::builder().payer(p).build().unwrap();
    let out = c.get_bucket_request_payment().bucket(&b).send().await.unwrap();
    assert_eq!(out.payer(), Some(&Payer::BucketOwner));
    c.put_bucket_request_payment()
        .bucket(&b)
        .request_payment_configuration(payer(Payer::BucketOwner))
        .send()
        .await
        .unwrap();
    check_sdk_error(
        c.put_bucket_request_payment()
            .bucket(&b)
            .request_payment_configuration(payer(Payer::Requester))
            .send()
            .await,
        501,
        "NotImplemented",
        &format!("/{b}"),
    );
    let out = c.get_bucket_request_payment().bucket(&b).send().await.unwrap();
    assert_eq!(out.payer(), Some(&Payer::BucketOwner));
    check_sdk_error(
        c.get_bucket_request_payment().bucket("bkt-missing").send().await,
        404,
        "NoSuchBucket",
        "/bkt-missing",
    );
    let (ak, sk) = s.add_user("paul").await;
    check_sdk_error(
        s.client_as(&ak, &sk)
            .get_bucket_request_payment()
            .bucket(&b)
            .send()
            .await,
        403,
        "AccessDenied",
        &format!("/{b}"),
    );
}

#[tokio::test]
async fn head_bucket() {
    let s = Server::start();
    let c = s.client();
    let b = bucket("head");
    c.create_bucket().bucket(&b).send().await.unwrap();
    let out = c.head_bucket().bucket(&b).send().await.unwrap();
    assert_eq!(out.bucket_region(), Some("us-east-1"));
    assert_eq!(sdk_status(c.head_bucket().bucket("bkt-missing").send().await), 404);
    let r = s.raw("HEAD", "/bkt-missing", &[], &[], b"").await;
    assert_eq!(r.status, 404);
    assert!(r.body.is_empty());
    assert!(r.header("x-amz-request-id").is_some());
    // Someone else's bucket.
    let (k, sec) = s.add_user("walter").await;
    assert_eq!(
        sdk_status(s.client_as(&k, &sec).head_bucket().bucket(&b).send().await),
        403
    );
}
