//! Additional checksums (CRC32, CRC32C, SHA1, SHA256, CRC64NVME): computed while a body
//! streams, verified against the header or the aws-chunked trailer, stored with the object.

use http::HeaderMap;
use s3s::checksum::ChecksumHasher;
use s3s::crypto::{Checksum as _, Crc32, Crc32c, Crc64Nvme, Sha1, Sha256};
use s3s::dto::ChecksumAlgorithm;
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
}

impl ChecksumCheck {
    /// What the request asks for: a checksum header, a trailer announced in `x-amz-trailer`,
    /// or just an algorithm to compute.
    pub fn from_request(headers: &HeaderMap, algorithm: Option<&ChecksumAlgorithm>) -> S3Result<Self> {
        let trailer = headers.get("x-amz-trailer").and_then(|v| v.to_str().ok()).unwrap_or("");
        let mut wanted = Vec::new();
        for (alg, header) in ALGORITHMS {
            let sent = headers.get(header).map(|v| v.to_str().map(str::to_owned));
            let sent = match sent {
                Some(Ok(v)) => Some(v),
                Some(Err(_)) => return Err(s3_error!(InvalidRequest, "Value for {header} header is invalid.")),
                None => None,
            };
            let named = algorithm.is_some_and(|a| a.as_str().eq_ignore_ascii_case(alg));
            if sent.is_some() || trailer.eq_ignore_ascii_case(header) || named {
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
        Ok(Self { hasher, wanted })
    }

    pub fn update(&mut self, data: &[u8]) {
        if !self.wanted.is_empty() {
            self.hasher.update(data);
        }
    }

    /// Verifies every checksum sent (in headers or `trailers`) and returns what to store.
    pub fn finish(self, trailers: Option<&HeaderMap>) -> S3Result<Vec<(String, String)>> {
        let sums = self.hasher.finalize();
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

/// Fills the `checksum_*` fields of an output from stored checksums.
macro_rules! set_checksums {
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
        if !$sums.is_empty() {
            $out.checksum_type = Some(s3s::dto::ChecksumType::from_static(s3s::dto::ChecksumType::FULL_OBJECT));
        }
    };
}
pub(crate) use set_checksums;
