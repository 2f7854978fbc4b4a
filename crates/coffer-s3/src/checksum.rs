//! Additional checksums (CRC32, CRC32C, SHA1, SHA256, CRC64NVME): computed while a body
//! streams, verified against the header or the aws-chunked trailer, stored with the object.

use coffer_store::PartRecord;
use http::HeaderMap;
use s3s::checksum::ChecksumHasher;
use s3s::crypto::{Checksum as _, Crc32, Crc32c, Crc64Nvme, Sha1, Sha256};
use s3s::dto::{ChecksumAlgorithm, ChecksumType};
use s3s::{S3Result, s3_error};

/// Algorithm name as S3 spells it, and its header.
const ALGORITHMS: [(&str, &str); 5] = [
    ("CRC32", "x-amz-checksum-crc32"),
    ("CRC32C", "x-amz-checksum-crc32c"),
    ("SHA1", "x-amz-checksum-sha1"),
    ("SHA256", "x-amz-checksum-sha256"),
    ("CRC64NVME", "x-amz-checksum-crc64nvme"),
];

pub struct ChecksumCheck {
    hasher: ChecksumHasher,
    /// (algorithm, header, value sent in a header if any)
    wanted: Vec<(&'static str, &'static str, Option<String>)>,
    /// The checksum header `x-amz-trailer` announced, which the trailer must carry.
    announced: Option<&'static str>,
}

impl ChecksumCheck {
    /// What the request asks for: a checksum header, a trailer announced in `x-amz-trailer`,
    /// or just an algorithm to compute.
    pub fn from_request(headers: &HeaderMap, algorithm: Option<&ChecksumAlgorithm>) -> S3Result<Self> {
        let trailer = headers.get("x-amz-trailer").and_then(|v| v.to_str().ok()).unwrap_or("");
        let mut wanted = Vec::new();
        let mut announced = None;
        for (alg, header) in ALGORITHMS {
            let sent = headers.get(header).map(|v| v.to_str().map(str::to_owned));
            let sent = match sent {
                Some(Ok(v)) => Some(v),
                Some(Err(_)) => return Err(s3_error!(InvalidRequest, "Value for {header} header is invalid.")),
                None => None,
            };
            let named = algorithm.is_some_and(|a| a.as_str().eq_ignore_ascii_case(alg));
            if trailer.eq_ignore_ascii_case(header) {
                announced = Some(header);
            }
            if sent.is_some() || announced == Some(header) || named {
                wanted.push((alg, header, sent));
            }
        }
        if wanted.iter().filter(|w| w.2.is_some()).count() > 1 {
            return Err(s3_error!(
                InvalidRequest,
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
            ));
        }
        let mut hasher = ChecksumHasher::default();
        for (alg, ..) in &wanted {
            match *alg {
                "CRC32" => hasher.crc32 = Some(Crc32::new()),
                "CRC32C" => hasher.crc32c = Some(Crc32c::new()),
                "SHA1" => hasher.sha1 = Some(Sha1::new()),
                "SHA256" => hasher.sha256 = Some(Sha256::new()),
                _ => hasher.crc64nvme = Some(Crc64Nvme::new()),
            }
        }
        Ok(Self {
            hasher,
            wanted,
            announced,
        })
    }

    pub fn update(&mut self, data: &[u8]) {
        if !self.wanted.is_empty() {
            self.hasher.update(data);
        }
    }

    /// Verifies every checksum sent (in headers or `trailers`) and returns what to store.
    pub fn finish(self, trailers: Option<&HeaderMap>) -> S3Result<Vec<(String, String)>> {
        let sums = self.hasher.finalize();
        if let Some(header) = self.announced
            && trailers.is_none_or(|t| !t.contains_key(header))
        {
            // Stored unverified otherwise: the client promised a checksum and sent none.
            return Err(crate::error::custom_with(
                "MalformedTrailerError",
                http::StatusCode::BAD_REQUEST,
                "The request contained trailing data that was not well-formed or did not conform to our published schema.",
            ));
        }
        let mut out = Vec::new();
        for (alg, header, sent) in self.wanted {
            let computed = match alg {
                "CRC32" => sums.checksum_crc32.clone(),
                "CRC32C" => sums.checksum_crc32c.clone(),
                "SHA1" => sums.checksum_sha1.clone(),
                "SHA256" => sums.checksum_sha256.clone(),
                _ => sums.checksum_crc64nvme.clone(),
            }
            .unwrap_or_default();
            let sent = sent.or_else(|| {
                trailers
                    .and_then(|t| t.get(header))
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            });
            if let Some(sent) = sent
                && sent != computed
            {
                return Err(s3_error!(
                    BadDigest,
                    "The {alg} you specified did not match the calculated checksum."
                ));
            }
            out.push((alg.to_owned(), computed));
        }
        Ok(out)
    }
}

/// Fills the `checksum_*` fields of an output or part from stored checksums.
macro_rules! set_checksum_fields {
    ($out:expr, $sums:expr) => {
        for (alg, v) in $sums {
            let v = Some(v.clone());
            match alg.as_str() {
                "CRC32" => $out.checksum_crc32 = v,
                "CRC32C" => $out.checksum_crc32c = v,
                "SHA1" => $out.checksum_sha1 = v,
                "SHA256" => $out.checksum_sha256 = v,
                "CRC64NVME" => $out.checksum_crc64nvme = v,
                _ => {}
            }
        }
    };
}
pub(crate) use set_checksum_fields;

/// [`set_checksum_fields`] plus the checksum type, for object-level outputs.
macro_rules! set_checksums {
    ($out:expr, $sums:expr) => {
        $crate::checksum::set_checksum_fields!($out, $sums);
        if let Some(t) = $crate::checksum::stored_type($sums) {
            $out.checksum_type = Some(s3s::dto::ChecksumType::from_static(t));
        }
    };
}
pub(crate) use set_checksums;

/// The checksum type of stored checksums: composite values end in `-N`.
pub fn stored_type(sums: &[(String, String)]) -> Option<&'static str> {
    let (_, v) = sums.first()?;
    Some(if v.contains('-') {
        ChecksumType::COMPOSITE
    } else {
        ChecksumType::FULL_OBJECT
    })
}

/// The object checksum of a completed multipart upload from its parts' checksums: for
/// COMPOSITE the checksum of the concatenated part checksums with `-N`; for FULL_OBJECT
/// the CRCs combined as if computed over the whole object. Empty when the upload asked for
/// no algorithm or a part lacks its checksum.
pub fn combine(alg: Option<&str>, ctype: Option<&str>, parts: &[PartRecord]) -> Vec<(String, String)> {
    let Some(alg) = alg else { return Vec::new() };
    let raw: Option<Vec<Vec<u8>>> = parts
        .iter()
        .map(|p| {
            let (_, v) = p.checksums.iter().find(|(a, _)| a == alg)?;
            base64_simd::STANDARD.decode_to_vec(v).ok()
        })
        .collect();
    let Some(raw) = raw else { return Vec::new() };
    let b64 = |b: &[u8]| base64_simd::STANDARD.encode_to_string(b);
    let value = if ctype == Some(ChecksumType::FULL_OBJECT) {
        let (algo, width) = match alg {
            "CRC32" => (crc_fast::CrcAlgorithm::Crc32IsoHdlc, 4),
            "CRC32C" => (crc_fast::CrcAlgorithm::Crc32Iscsi, 4),
            "CRC64NVME" => (crc_fast::CrcAlgorithm::Crc64Nvme, 8),
            _ => return Vec::new(),
        };
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
    } else {
        let joined: Vec<u8> = raw.concat();
        let sum = match alg {
            "CRC32" => Crc32::checksum(&joined).to_vec(),
            "CRC32C" => Crc32c::checksum(&joined).to_vec(),
            "SHA1" => Sha1::checksum(&joined).as_ref().to_vec(),
            "SHA256" => Sha256::checksum(&joined).as_ref().to_vec(),
            _ => return Vec::new(),
        };
        format!("{}-{}", b64(&sum), parts.len())
    };
    vec![(alg.to_owned(), value)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(n: u32, data: &[u8], alg: &str) -> PartRecord {
        let v = match alg {
            "CRC32" => base64_simd::STANDARD.encode_to_string(Crc32::checksum(data)),
            "CRC64NVME" => base64_simd::STANDARD.encode_to_string(Crc64Nvme::checksum(data)),
            _ => unreachable!(),
        };
        PartRecord {
            part_number: n,
            size: data.len() as u64,
            etag: String::new(),
            md5: [0; 16],
            crc32c: 0,
            last_modified_ms: 0,
            data: coffer_store::DataRef::Empty,
            checksums: vec![(alg.to_owned(), v)],
        }
    }

    #[test]
    fn full_object_crc_equals_crc_of_the_whole() {
        for alg in ["CRC32", "CRC64NVME"] {
            let parts = [
                part(1, b"hello ", alg),
                part(2, b"multipart ", alg),
                part(3, b"world", alg),
            ];
            let whole = part(0, b"hello multipart world", alg);
            assert_eq!(
                combine(Some(alg), Some("FULL_OBJECT"), &parts)[0].1,
                whole.checksums[0].1,
                "{alg}"
            );
        }
    }

    #[test]
    fn composite_is_checksum_of_checksums() {
        let parts = [part(1, b"ab", "CRC32"), part(2, b"cd", "CRC32")];
        let mut joined = Crc32::checksum(b"ab").to_vec();
        joined.extend_from_slice(&Crc32::checksum(b"cd"));
        let want = format!("{}-2", base64_simd::STANDARD.encode_to_string(Crc32::checksum(&joined)));
        assert_eq!(
            combine(Some("CRC32"), Some("COMPOSITE"), &parts),
            vec![("CRC32".into(), want)]
        );
        assert_eq!(
            stored_type(&combine(Some("CRC32"), Some("COMPOSITE"), &parts)),
            Some("COMPOSITE")
        );
    }
}
