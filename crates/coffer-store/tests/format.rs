//! Golden bytes: each record format, pinned. A change to an encoding fails here; it needs a
//! new format version (and a migration from this one), not an edit of these bytes.

use coffer_store::model::{
    BucketRecord, CanonicalId, DataRef, DefaultRetention, LockMode, ObjectMeta, ObjectRecord, PartRecord, Retention,
    UploadRecord, Versioning,
};
use coffer_store::record::{self, v0};
use coffer_store::sse::SealedKey;
use coffer_store::{
    AccessKey, AccessKeyRecord, BlobId, ChecksumAlgorithm, ChecksumType, Grant, Grantee, Permission, Sse, SseMode,
    UserRecord,
};

const ID: CanonicalId = CanonicalId([0xab; 32]);

fn meta() -> ObjectMeta {
    ObjectMeta {
        content_type: Some("text/plain".into()),
        cache_control: None,
        content_disposition: None,
        content_encoding: None,
        content_language: None,
        expires: None,
        user: vec![("k".into(), "v".into())],
        checksums: vec![(ChecksumAlgorithm::Crc32, "AAAAAA==".into())],
    }
}

fn bucket() -> BucketRecord {
    BucketRecord {
        owner: ID,
        created_ms: 1_700_000_000_000,
        versioning: Versioning::Enabled,
        object_lock: true,
        default_retention: Some(DefaultRetention {
            mode: LockMode::Governance,
            days: 3,
        }),
    }
}

fn object() -> ObjectRecord {
    ObjectRecord {
        version_id: Some("00ff".into()),
        sort: 0x0102_0304,
        delete_marker: false,
        size: 5,
        etag: "5d41402abc4b2a76b9719d911017c592".into(),
        md5: [0x5d; 16],
        crc32c: Some(7),
        last_modified_ms: 1_700_000_000_001,
        data: DataRef::Blob(BlobId(9)),
        meta: meta(),
        retention: Some(Retention {
            mode: LockMode::Compliance,
            until_ms: 1_800_000_000_000,
        }),
        legal_hold: true,
        owner: Some(ID),
        acl: Some(vec![
            Grant {
                grantee: Grantee::AllUsers,
                permission: Permission::Read,
            },
            Grant {
                grantee: Grantee::User(ID),
                permission: Permission::FullControl,
            },
        ]),
        tags: vec![("team".into(), "a".into())],
        website_redirect: Some("/x".into()),
        sse: Some(Sse {
            mode: SseMode::Kms {
                key_id: "k".into(),
                context: String::new(),
                bucket_key: true,
            },
            key: Some(sealed()),
        }),
    }
}

fn sealed() -> SealedKey {
    SealedKey {
        nonce: [1; 12],
        key: [2; 32],
        tag: [3; 16],
    }
}

/// The sealed key's bytes: nonce, key and tag, raw.
fn sealed_hex() -> String {
    format!("{}{}{}", "01".repeat(12), "02".repeat(32), "03".repeat(16))
}

fn upload() -> UploadRecord {
    UploadRecord {
        bucket: "b".into(),
        key: "k".into(),
        upload_id: "0123".into(),
        owner: ID,
        initiated_ms: 1_700_000_000_002,
        meta: meta(),
        checksum_algorithm: Some(ChecksumAlgorithm::Crc32),
        checksum_type: Some(ChecksumType::Composite),
        object_owner: Some(ID),
        acl: Some(vec![Grant {
            grantee: Grantee::AuthenticatedUsers,
            permission: Permission::ReadAcp,
        }]),
        tags: vec![],
        website_redirect: None,
        sse: Some(SseMode::Customer {
            salt: [5; 16],
            key_mac: [4; 32],
        }),
    }
}

fn part() -> PartRecord {
    PartRecord {
        part_number: 2,
        size: 6,
        etag: "e".into(),
        md5: [1; 16],
        crc32c: 8,
        last_modified_ms: 1_700_000_000_003,
        data: DataRef::Inline(10),
        checksums: vec![],
        sse: Some(Sse {
            mode: SseMode::S3,
            key: Some(sealed()),
        }),
    }
}

fn user() -> UserRecord {
    UserRecord {
        name: "alice".into(),
        canonical_user_id: ID,
        created_ms: 1_700_000_000_004,
        access_keys: vec![AccessKey {
            access_key_id: "AKID".into(),
            created_ms: 1_700_000_000_004,
        }],
    }
}

/// `user()`'s key as its `users` row holds it.
fn key() -> AccessKeyRecord {
    AccessKeyRecord {
        canonical_user_id: ID,
        name: "alice".into(),
        secret_access_key: "secret".into(),
        created_ms: 1_700_000_000_004,
    }
}

/// A user as formats 1-3 stored it under its one key: name, key id, secret, id, created.
const USER_3_REST: &str = "05616c69636504414b49440673656372657420ABAB88a0abfef962";

fn golden(hex_str: &str) -> Vec<u8> {
    hex::decode(hex_str).unwrap()
}

const AB: &str = "abababababababababababababababababababababababababababababababab";

const OBJECT_1: &str = "010104303066668486880800052035643431343032616263346232613736623937313964393131303137633539325d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d010782a0abfef9620209010a746578742f706c61696e000000000001016b017601054352433332084141414141413d3d010180c0e285e368010120";
const UPLOAD_1: &str = "010162016b043031323320";
const UPLOAD_1_REST: &str = "84a0abfef962010a746578742f706c61696e000000000001016b017601054352433332084141414141413d3d010543524333320109434f4d504f53495445";

const OBJECT_2_REST: &str = "010201010020ABAB0001047465616d016101022f78";
const UPLOAD_2_REST: &str = "0120ABAB010102030000";
const PART_2: &str = "0202060165010101010101010101010101010101010886a0abfef962010a00";

#[test]
fn format_4_bytes_are_pinned() {
    let bytes = golden(&format!("0420{AB}80a0abfef9620101010003"));
    assert_eq!(record::encode(&bucket()), bytes, "bucket");
    assert_eq!(record::decode::<BucketRecord>(&bytes).unwrap(), bucket());
    // Format 3 adds encryption: to objects, Some(Kms "k", no context, bucket key on, Some(sealed));
    let bytes = golden(&format!(
        "04{}{AB}{}0101016b000101{}",
        &OBJECT_1[2..],
        OBJECT_2_REST.replace("ABAB", AB),
        sealed_hex()
    ));
    assert_eq!(record::encode(&object()), bytes, "object");
    assert_eq!(record::decode::<ObjectRecord>(&bytes).unwrap(), object());
    // to uploads, the mode alone: Some(Customer with its salt and key MAC);
    let bytes = golden(&format!(
        "04{}{AB}{UPLOAD_1_REST}{}0102{}{}",
        &UPLOAD_1[2..],
        UPLOAD_2_REST.replace("ABAB", AB),
        "05".repeat(16),
        "04".repeat(32)
    ));
    assert_eq!(record::encode(&upload()), bytes, "upload");
    assert_eq!(record::decode::<UploadRecord>(&bytes).unwrap(), upload());
    // and to parts, their own: Some(S3, Some(sealed)).
    let bytes = golden(&format!("04{}010001{}", &PART_2[2..], sealed_hex()));
    assert_eq!(record::encode(&part()), bytes, "part");
    assert_eq!(record::decode::<PartRecord>(&bytes).unwrap(), part());
    // Format 4: a user under its id (name, id, created, its keys: 1, ("AKID", created)),
    let bytes = golden(&format!("0405616c69636520{AB}88a0abfef9620104414b494488a0abfef962"));
    assert_eq!(record::encode(&user()), bytes, "user");
    assert_eq!(record::decode::<UserRecord>(&bytes).unwrap(), user());
    // and each key under its id (user id, name, secret, created).
    let bytes = golden(&format!("0420{AB}05616c6963650673656372657488a0abfef962"));
    assert_eq!(record::encode(&key()), bytes, "access key");
    assert_eq!(record::decode::<AccessKeyRecord>(&bytes).unwrap(), key());
    // Usage counts and quotas, rows of their own since format 3.
    let usage = coffer_store::Usage {
        objects: 3,
        bytes: 300,
        uploads: 1,
    };
    let bytes = golden("0403ac0201");
    assert_eq!(record::encode(&usage), bytes, "usage");
    assert_eq!(record::decode::<coffer_store::Usage>(&bytes).unwrap(), usage);
    let quota = coffer_store::Quota {
        max_bytes: Some(1 << 20),
        max_objects: None,
    };
    let bytes = golden("040180804000");
    assert_eq!(record::encode(&quota), bytes, "quota");
    assert_eq!(record::decode::<coffer_store::Quota>(&bytes).unwrap(), quota);
}

/// Format 3, as the previous release wrote it, is read in memory: only users changed, and
/// a user row reads as the one key it holds (the upgrade rewrites users whole).
#[test]
fn format_3_bytes_decode_as_format_4() {
    let b = record::decode::<BucketRecord>(&golden(&format!("0320{AB}80a0abfef9620101010003"))).unwrap();
    assert_eq!(b, bucket());
    let bytes = golden(&format!(
        "03{}{AB}{}0101016b000101{}",
        &OBJECT_1[2..],
        OBJECT_2_REST.replace("ABAB", AB),
        sealed_hex()
    ));
    assert_eq!(record::decode::<ObjectRecord>(&bytes).unwrap(), object());
    let bytes = golden(&format!(
        "03{}{AB}{UPLOAD_1_REST}{}0102{}{}",
        &UPLOAD_1[2..],
        UPLOAD_2_REST.replace("ABAB", AB),
        "05".repeat(16),
        "04".repeat(32)
    ));
    assert_eq!(record::decode::<UploadRecord>(&bytes).unwrap(), upload());
    let bytes = golden(&format!("03{}010001{}", &PART_2[2..], sealed_hex()));
    assert_eq!(record::decode::<PartRecord>(&bytes).unwrap(), part());
    let user3 = golden(&format!("03{}", USER_3_REST.replace("ABAB", AB)));
    assert_eq!(record::decode::<AccessKeyRecord>(&user3).unwrap(), key());
    assert!(
        record::decode::<UserRecord>(&user3).is_err(),
        "no user record before format 4"
    );
    let v3: record::v3::UserRecordV3 = postcard::from_bytes(&user3[1..]).unwrap();
    assert_eq!((v3.key(), v3.user()), (key(), user()));
    assert_eq!(
        record::decode::<coffer_store::Usage>(&golden("0303ac0201"))
            .unwrap()
            .bytes,
        300
    );
}

/// Format 2, as the previous release wrote it, is read in memory: nothing encrypted.
#[test]
fn format_2_bytes_decode_as_format_4() {
    let b = record::decode::<BucketRecord>(&golden(&format!("0220{AB}80a0abfef9620101010003"))).unwrap();
    assert_eq!(b, bucket());
    // Format 2 added the ACL: Some, 2 grants, AllUsers READ, User(ab…) FULL_CONTROL; the
    // tags: 1, ("team", "a"); and the website redirect: Some("/x").
    let bytes = golden(&format!(
        "02{}{AB}{}",
        &OBJECT_1[2..],
        OBJECT_2_REST.replace("ABAB", AB)
    ));
    assert_eq!(
        record::decode::<ObjectRecord>(&bytes).unwrap(),
        ObjectRecord { sse: None, ..object() }
    );
    // ... and the object's owner, ACL, tags and redirect to uploads: Some(ab…),
    // Some([AuthenticatedUsers READ_ACP]), none, none.
    let bytes = golden(&format!(
        "02{}{AB}{UPLOAD_1_REST}{}",
        &UPLOAD_1[2..],
        UPLOAD_2_REST.replace("ABAB", AB)
    ));
    assert_eq!(
        record::decode::<UploadRecord>(&bytes).unwrap(),
        UploadRecord { sse: None, ..upload() }
    );
    assert_eq!(
        record::decode::<PartRecord>(&golden(PART_2)).unwrap(),
        PartRecord { sse: None, ..part() }
    );
    let bytes = golden(&format!("02{}", USER_3_REST.replace("ABAB", AB)));
    assert_eq!(record::decode::<AccessKeyRecord>(&bytes).unwrap(), key());
}

/// Format 1, as the previous release wrote it, is read in memory: no ACL, and a completed
/// upload's object owned by the bucket's owner.
#[test]
fn format_1_bytes_decode_as_format_4() {
    let b = record::decode::<BucketRecord>(&golden(&format!("0120{AB}80a0abfef9620101010003"))).unwrap();
    assert_eq!(b, bucket());
    let o = record::decode::<ObjectRecord>(&golden(&format!("{OBJECT_1}{AB}"))).unwrap();
    assert_eq!(
        o,
        ObjectRecord {
            acl: None,
            tags: vec![],
            website_redirect: None,
            sse: None,
            ..object()
        }
    );
    let u = record::decode::<UploadRecord>(&golden(&format!("{UPLOAD_1}{AB}{UPLOAD_1_REST}"))).unwrap();
    assert_eq!(
        u,
        UploadRecord {
            object_owner: None,
            acl: None,
            tags: vec![],
            website_redirect: None,
            sse: None,
            ..upload()
        }
    );
    let p = record::decode::<PartRecord>(&golden(
        "0102060165010101010101010101010101010101010886a0abfef962010a00",
    ))
    .unwrap();
    assert_eq!(p, PartRecord { sse: None, ..part() });
    let u = record::decode::<AccessKeyRecord>(&golden(&format!("01{}", USER_3_REST.replace("ABAB", AB)))).unwrap();
    assert_eq!(u, key());
}

#[test]
fn records_of_another_format_are_refused_not_misread() {
    let mut bytes = record::encode(&bucket());
    bytes[0] = record::FORMAT + 1;
    assert!(record::decode::<BucketRecord>(&bytes).is_err());
    assert!(record::decode::<BucketRecord>(&[]).is_err());
}

/// Format 0: no version byte; owners by name; canonical ids as hex text; objects without
/// an owner.
#[test]
fn format_0_bytes_decode_and_upgrade() {
    let b: v0::BucketRecordV0 = v0::decode(&golden("05616c69636580a0abfef9620101010a474f5645524e414e434503")).unwrap();
    assert_eq!(b.owner, "alice");
    assert_eq!(
        (b.created_ms, b.versioning, b.object_lock),
        (1_700_000_000_000, Versioning::Enabled, true)
    );
    assert_eq!(
        b.default_retention.map(|d| d.upgrade().unwrap()),
        bucket().default_retention
    );

    let o: v0::ObjectRecordV0 = v0::decode(&golden("0104303066668486880800052035643431343032616263346232613736623937313964393131303137633539325d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d010782a0abfef9620209010a746578742f706c61696e000000000001016b017601054352433332084141414141413d3d010a434f4d504c49414e434580c0e285e36801")).unwrap();
    assert_eq!(
        o.upgrade().unwrap(),
        ObjectRecord {
            owner: None,
            acl: None,
            tags: vec![],
            website_redirect: None,
            sse: None,
            ..object()
        }
    );

    let u: v0::UploadRecordV0 = v0::decode(&golden("0162016b043031323305616c69636584a0abfef962010a746578742f706c61696e000000000001016b017601054352433332084141414141413d3d010543524333320109434f4d504f53495445")).unwrap();
    assert_eq!(
        (u.owner.as_str(), u.upload_id.as_str(), u.meta),
        ("alice", "0123", meta())
    );

    let p: v0::PartRecordV0 =
        v0::decode(&golden("02060165010101010101010101010101010101010886a0abfef962010a00")).unwrap();
    assert_eq!(p.upgrade(), PartRecord { sse: None, ..part() });

    let user0: v0::UserRecordV0 = v0::decode(&golden("05616c69636504414b494406736563726574406162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616288a0abfef962")).unwrap();
    assert_eq!(user0.canonical_user_id, AB);
    assert_eq!(CanonicalId::parse(&user0.canonical_user_id), Some(ID));
}
