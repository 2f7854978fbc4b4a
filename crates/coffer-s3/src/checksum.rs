//! Additional checksums (CRC32, CRC32C, SHA1, SHA256, CRC64NVME): computed while a body
//! streams, verified against the header or the aws-chunked trailer, stored with the object.
//! The algorithms, their rules and multipart combining live in the store
//! (`coffer_store::checksum`); this is the HTTP side.

use coffer_store::{ChecksumAlgorithm, Checksums};
use http::HeaderMap;
use s3s::S3Result;
use s3s::checksum::ChecksumHasher;
use s3s::crypto::{Checksum as _, Crc32, Crc32c, Crc64Nvme, Sha1, Sha256};
use s3s::s3_error;

pub struct ChecksumCheck {
    hasher: ChecksumHasher,
    /// (algorithm, value sent in a header if any)
    wanted: Vec<(ChecksumAlgorithm, Option<String>)>,
    /// The algorithm whose header `x-amz-trailer` announced, which the trailer must carry.
    announced: Option<ChecksumAlgorithm>,
}

impl ChecksumCheck {
    /// What the request asks for: a checksum header, a trailer announced in `x-amz-trailer`,
    /// or just an algorithm to compute.
    pub fn from_request(headers: &HeaderMap, algorithm: Option<&s3s::dto::ChecksumAlgorithm>) -> S3Result<Self> {
        let trailer = headers.get("x-amz-trailer").and_then(|v| v.to_str().ok()).unwrap_or("");
        let mut wanted = Vec::new();
        let mut announced = None;
        for alg in ChecksumAlgorithm::ALL {
            let header = alg.header();
            let sent = headers.get(header).map(|v| v.to_str().map(str::to_owned));
            let sent = match sent {
                Some(Ok(v)) => Some(v),
                Some(Err(_)) => return Err(s3_error!(InvalidRequest, "Value for {header} header is invalid.")),
                None => None,
            };
            let named = algorithm.is_some_and(|a| ChecksumAlgorithm::parse(a.as_str()) == Some(alg));
            if trailer.eq_ignore_ascii_case(header) {
                announced = Some(alg);
            }
            if sent.is_some() || announced == Some(alg) || named {
                wanted.push((alg, sent));
            }
        }
        if wanted.iter().filter(|w| w.1.is_some()).count() > 1 {
            return Err(s3_error!(
                InvalidRequest,
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
            ));
        }
        let mut hasher = ChecksumHasher::default();
        for (alg, _) in &wanted {
            match alg {
                ChecksumAlgorithm::Crc32 => hasher.crc32 = Some(Crc32::new()),
                ChecksumAlgorithm::Crc32c => hasher.crc32c = Some(Crc32c::new()),
                ChecksumAlgorithm::Sha1 => hasher.sha1 = Some(Sha1::new()),
                ChecksumAlgorithm::Sha256 => hasher.sha256 = Some(Sha256::new()),
                ChecksumAlgorithm::Crc64Nvme => hasher.crc64nvme = Some(Crc64Nvme::new()),
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
    pub fn finish(self, trailers: Option<&HeaderMap>) -> S3Result<Checksums> {
        let sums = self.hasher.finalize();
        if let Some(alg) = self.announced
            && trailers.is_none_or(|t| !t.contains_key(alg.header()))
        {
            // Stored unverified otherwise: the client promised a checksum and sent none.
            return Err(crate::error::custom_with(
                "MalformedTrailerError",
                http::StatusCode::BAD_REQUEST,
                "The request contained trailing data that was not well-formed or did not conform to our published schema.",
            ));
        }
        let mut out = Vec::new();
        for (alg, sent) in self.wanted {
            let computed = match alg {
                ChecksumAlgorithm::Crc32 => sums.checksum_crc32.clone(),
                ChecksumAlgorithm::Crc32c => sums.checksum_crc32c.clone(),
                ChecksumAlgorithm::Sha1 => sums.checksum_sha1.clone(),
                ChecksumAlgorithm::Sha256 => sums.checksum_sha256.clone(),
                ChecksumAlgorithm::Crc64Nvme => sums.checksum_crc64nvme.clone(),
            }
            .unwrap_or_default();
            let sent = sent.or_else(|| {
                trailers
                    .and_then(|t| t.get(alg.header()))
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            });
            if let Some(sent) = sent
                && sent != computed
            {
                return Err(s3_error!(
                    BadDigest,
                    "The {} you specified did not match the calculated checksum.",
                    alg.as_str()
                ));
            }
            out.push((alg, computed));
        }
        Ok(out)
    }
}

/// Fills the `checksum_*` fields of an output or part from stored checksums.
macro_rules! set_checksum_fields {
    ($out:expr, $sums:expr) => {
        for (alg, v) in $sums {
            let v = Some(v.clone());
            match alg {
                coffer_store::ChecksumAlgorithm::Crc32 => $out.checksum_crc32 = v,
                coffer_store::ChecksumAlgorithm::Crc32c => $out.checksum_crc32c = v,
                coffer_store::ChecksumAlgorithm::Sha1 => $out.checksum_sha1 = v,
                coffer_store::ChecksumAlgorithm::Sha256 => $out.checksum_sha256 = v,
                coffer_store::ChecksumAlgorithm::Crc64Nvme => $out.checksum_crc64nvme = v,
            }
        }
    };
}
pub(crate) use set_checksum_fields;

/// [`set_checksum_fields`] plus the checksum type, for object-level outputs.
macro_rules! set_checksums {
    ($out:expr, $sums:expr) => {
        $crate::checksum::set_checksum_fields!($out, $sums);
        if let Some(t) = coffer_store::ChecksumType::of($sums) {
            $out.checksum_type = Some(s3s::dto::ChecksumType::from_static(t.as_str()));
        }
    };
}
pub(crate) use set_checksums;

/// A part's checksums as sent in CompleteMultipartUpload (or the whole object's, from the
/// same fields of the request).
macro_rules! sent_checksums {
    ($p:expr) => {
        [
            (coffer_store::ChecksumAlgorithm::Crc32, &$p.checksum_crc32),
            (coffer_store::ChecksumAlgorithm::Crc32c, &$p.checksum_crc32c),
            (coffer_store::ChecksumAlgorithm::Sha1, &$p.checksum_sha1),
            (coffer_store::ChecksumAlgorithm::Sha256, &$p.checksum_sha256),
            (coffer_store::ChecksumAlgorithm::Crc64Nvme, &$p.checksum_crc64nvme),
        ]
        .into_iter()
        .filter_map(|(a, v)| v.clone().map(|v| (a, v)))
        .collect::<coffer_store::Checksums>()
    };
}
pub(crate) use sent_checksums;
