//! Additional checksums as the store keeps them: the algorithm and type as enums, the rule
//! of which type each algorithm allows, and a completed upload's checksum from its parts'.
//!
//! Both enums are stored by their S3 names, so records written when these were strings
//! decode unchanged and the record format stays 1.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha1::Digest as _;

use crate::error::{StoreError, StoreResult};
use crate::model::{PartRecord, UploadRecord};
use crate::multipart::CompletePart;

/// An additional checksum algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Sha1,
    Sha256,
    Crc64Nvme,
}

/// How a multipart object's checksum relates to its parts'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumType {
    /// The checksum of the parts' checksums, shown with `-N`.
    Composite,
    /// The checksum of the whole object, combined from the parts' CRCs.
    FullObject,
}

/// Checksums kept with an object or part: algorithm and base64 value.
pub type Checksums = Vec<(ChecksumAlgorithm, String)>;

impl ChecksumAlgorithm {
    pub const ALL: [ChecksumAlgorithm; 5] = [Self::Crc32, Self::Crc32c, Self::Sha1, Self::Sha256, Self::Crc64Nvme];

    /// S3's name for it, as in `x-amz-checksum-algorithm`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Crc64Nvme => "CRC64NVME",
        }
    }

    /// The header that carries its value.
    pub fn header(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
        }
    }

    /// From S3's name, in any case.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str().eq_ignore_ascii_case(s))
    }

    /// The type an upload gets when it names only the algorithm.
    pub fn default_type(self) -> ChecksumType {
        match self {
            Self::Crc64Nvme => ChecksumType::FullObject,
            _ => ChecksumType::Composite,
        }
    }

    /// Whether S3 accepts this algorithm with `t`: CRCs combine into a full-object value;
    /// every algorithm but CRC64NVME makes a composite one.
    pub fn allows(self, t: ChecksumType) -> bool {
        match t {
            ChecksumType::FullObject => matches!(self, Self::Crc32 | Self::Crc32c | Self::Crc64Nvme),
            ChecksumType::Composite => self != Self::Crc64Nvme,
        }
    }

    /// The checksum of `data`, raw.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Crc32 | Self::Crc32c | Self::Crc64Nvme => {
                let (algo, width) = self.crc().expect("a CRC");
                let v = crc_fast::checksum(algo, data);
                v.to_be_bytes()[8 - width..].to_vec()
            }
            Self::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Self::Sha256 => sha2::Sha256::digest(data).to_vec(),
        }
    }

    /// The CRC behind the algorithm and its width in bytes, for the CRCs.
    fn crc(self) -> Option<(crc_fast::CrcAlgorithm, usize)> {
        match self {
            Self::Crc32 => Some((crc_fast::CrcAlgorithm::Crc32IsoHdlc, 4)),
            Self::Crc32c => Some((crc_fast::CrcAlgorithm::Crc32Iscsi, 4)),
            Self::Crc64Nvme => Some((crc_fast::CrcAlgorithm::Crc64Nvme, 8)),
            Self::Sha1 | Self::Sha256 => None,
        }
    }
}

impl ChecksumType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Composite => "COMPOSITE",
            Self::FullObject => "FULL_OBJECT",
        }
    }

    /// From S3's name, in any case.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Composite, Self::FullObject]
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }

    /// The type of stored checksums: composite values end in `-N`.
    pub fn of(sums: &[(ChecksumAlgorithm, String)]) -> Option<Self> {
        let (_, v) = sums.first()?;
        Some(if v.contains('-') {
            Self::Composite
        } else {
            Self::FullObject
        })
    }
}

/// The object checksum of a completed multipart upload from its parts' checksums: for
/// COMPOSITE the checksum of the concatenated part checksums with `-N`; for FULL_OBJECT the
/// CRCs combined as if computed over the whole object. Empty when the upload asked for no
/// algorithm or a part lacks its checksum.
pub fn combine(alg: Option<ChecksumAlgorithm>, ctype: Option<ChecksumType>, parts: &[PartRecord]) -> Checksums {
    let Some(alg) = alg else { return Vec::new() };
    let raw: Option<Vec<Vec<u8>>> = parts
        .iter()
        .map(|p| {
            let (_, v) = p.checksums.iter().find(|(a, _)| *a == alg)?;
            base64_simd::STANDARD.decode_to_vec(v).ok()
        })
        .collect();
    let Some(raw) = raw else { return Vec::new() };
    let b64 = |b: &[u8]| base64_simd::STANDARD.encode_to_string(b);
    let value = match (ctype.unwrap_or(alg.default_type()), alg.crc()) {
        (ChecksumType::FullObject, Some((algo, width))) => {
            let mut acc: Option<u64> = None;
            for (v, p) in raw.iter().zip(parts) {
                let mut be = [0u8; 8];
                be[8 - v.len().min(8)..].copy_from_slice(&v[..v.len().min(8)]);
                let crc = u64::from_be_bytes(be);
                acc = Some(match acc {
                    None => crc,
                    Some(a) => crc_fast::checksum_combine(algo, a, crc, p.size),
                });
            }
            b64(&acc.unwrap_or(0).to_be_bytes()[8 - width..])
        }
        (ChecksumType::FullObject, None) => return Vec::new(),
        (ChecksumType::Composite, _) => format!("{}-{}", b64(&alg.digest(&raw.concat())), parts.len()),
    };
    vec![(alg, value)]
}

/// The checksums of a completed upload: every part checksum the client sent must be the
/// one stored with that part (else InvalidPart), and every whole-object checksum it sent
/// must match the combined one (else BadDigest).
pub(crate) fn complete(
    upload: &UploadRecord,
    chosen: &[CompletePart],
    picked: &[PartRecord],
    sent_whole: &[(ChecksumAlgorithm, String)],
) -> StoreResult<Checksums> {
    for (sent, stored) in chosen.iter().zip(picked) {
        for (alg, v) in &sent.checksums {
            if stored.checksums.iter().any(|(a, mine)| a == alg && mine != v) {
                return Err(StoreError::InvalidPart);
            }
        }
    }
    let sums = combine(upload.checksum_algorithm, upload.checksum_type, picked);
    for (alg, v) in sent_whole {
        if sums.iter().any(|(a, mine)| a == alg && mine != v) {
            return Err(StoreError::BadDigest);
        }
    }
    Ok(sums)
}

impl Serialize for ChecksumAlgorithm {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ChecksumAlgorithm {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown checksum algorithm {s}")))
    }
}

impl Serialize for ChecksumType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ChecksumType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown checksum type {s}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DataRef;

    fn b64(alg: ChecksumAlgorithm, data: &[u8]) -> String {
        base64_simd::STANDARD.encode_to_string(alg.digest(data))
    }

    fn part(n: u32, data: &[u8], alg: ChecksumAlgorithm) -> PartRecord {
        PartRecord {
            part_number: n,
            size: data.len() as u64,
            etag: String::new(),
            md5: [0; 16],
            crc32c: 0,
            last_modified_ms: 0,
            data: DataRef::Empty,
            checksums: vec![(alg, b64(alg, data))],
            sse: None,
        }
    }

    #[test]
    fn digests_match_known_values() {
        // "123456789" is every CRC's check input.
        let check = |alg: ChecksumAlgorithm| hex::encode(alg.digest(b"123456789"));
        assert_eq!(check(ChecksumAlgorithm::Crc32), "cbf43926");
        assert_eq!(check(ChecksumAlgorithm::Crc32c), "e3069283");
        assert_eq!(check(ChecksumAlgorithm::Crc64Nvme), "ae8b14860a799888");
        assert_eq!(
            check(ChecksumAlgorithm::Sha1),
            "f7c3bc1d808e04732adf679965ccc34ca7ae3441"
        );
    }

    #[test]
    fn full_object_crc_equals_crc_of_the_whole() {
        for alg in [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme,
        ] {
            let parts = [
                part(1, b"hello ", alg),
                part(2, b"multipart ", alg),
                part(3, b"world", alg),
            ];
            assert_eq!(
                combine(Some(alg), Some(ChecksumType::FullObject), &parts),
                vec![(alg, b64(alg, b"hello multipart world"))],
                "{alg:?}"
            );
        }
    }

    #[test]
    fn composite_is_checksum_of_checksums() {
        let alg = ChecksumAlgorithm::Crc32;
        let parts = [part(1, b"ab", alg), part(2, b"cd", alg)];
        let mut joined = alg.digest(b"ab");
        joined.extend_from_slice(&alg.digest(b"cd"));
        let want = format!("{}-2", b64(alg, &joined));
        let got = combine(Some(alg), Some(ChecksumType::Composite), &parts);
        assert_eq!(got, vec![(alg, want)]);
        assert_eq!(ChecksumType::of(&got), Some(ChecksumType::Composite));
        // A part without the upload's checksum leaves the object without one.
        let mut bare = parts.clone();
        bare[1].checksums.clear();
        assert!(combine(Some(alg), None, &bare).is_empty());
    }

    #[test]
    fn which_types_each_algorithm_allows() {
        use ChecksumAlgorithm::*;
        use ChecksumType::*;
        let full: Vec<_> = ChecksumAlgorithm::ALL
            .into_iter()
            .filter(|a| a.allows(FullObject))
            .collect();
        let composite: Vec<_> = ChecksumAlgorithm::ALL
            .into_iter()
            .filter(|a| a.allows(Composite))
            .collect();
        assert_eq!(full, [Crc32, Crc32c, Crc64Nvme]);
        assert_eq!(composite, [Crc32, Crc32c, Sha1, Sha256]);
        assert!(ChecksumAlgorithm::ALL.into_iter().all(|a| a.allows(a.default_type())));
    }

    #[test]
    fn stored_by_name_as_format_1_wrote_strings() {
        for alg in ChecksumAlgorithm::ALL {
            let as_string = postcard::to_allocvec(alg.as_str()).unwrap();
            assert_eq!(postcard::to_allocvec(&alg).unwrap(), as_string);
            assert_eq!(postcard::from_bytes::<ChecksumAlgorithm>(&as_string).unwrap(), alg);
        }
        assert!(postcard::from_bytes::<ChecksumAlgorithm>(&postcard::to_allocvec("MD5").unwrap()).is_err());
    }
}
