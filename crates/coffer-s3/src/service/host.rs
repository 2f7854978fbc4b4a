//! Which bucket a request addresses, from its Host header.

use s3s::S3Result;
use s3s::host::{S3Host, VirtualHost};

/// Virtual-hosted-style addressing under configured domains (`bucket.localhost:9000`);
/// any other host name is path-style. s3s's own hosts treat an unknown host as a bucket
/// name (CNAME style), which would break `localhost:9000` and any plain DNS name.
pub struct CofferHost {
    domains: Vec<String>,
}

impl CofferHost {
    pub fn new(domains: Vec<String>) -> Self {
        Self { domains }
    }
}

impl S3Host for CofferHost {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        let name = match host.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host,
        };
        for d in &self.domains {
            if name.eq_ignore_ascii_case(d) {
                return Ok(VirtualHost::new(name));
            }
            if let Some(bucket) = name.strip_suffix(d.as_str()).and_then(|b| b.strip_suffix('.'))
                && !bucket.is_empty()
            {
                return Ok(VirtualHost::new(d.as_str()).with_bucket(bucket));
            }
        }
        Ok(VirtualHost::new(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_split_bucket_from_domain() {
        let h = CofferHost::new(vec!["localhost".into(), "s3.example.com".into()]);
        assert_eq!(h.parse_host_header("localhost:9000").unwrap().bucket(), None);
        assert_eq!(
            h.parse_host_header("pics.localhost:9000").unwrap().bucket(),
            Some("pics")
        );
        assert_eq!(
            h.parse_host_header("pics.s3.example.com").unwrap().bucket(),
            Some("pics")
        );
        assert_eq!(h.parse_host_header("other.host").unwrap().bucket(), None);
    }
}
