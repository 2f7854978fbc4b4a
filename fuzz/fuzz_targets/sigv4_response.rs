//! coffer::sigv4's response parser and de-chunker: never panics on any bytes, and reads
//! back any body it is given in chunks of any sizes.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Input {
    Raw(Vec<u8>),
    Chunked { status: u16, chunks: Vec<Vec<u8>> },
}

fuzz_target!(|input: Input| {
    match input {
        Input::Raw(bytes) => {
            let _ = coffer::sigv4::parse_response(&bytes);
        }
        Input::Chunked { status, chunks } => {
            let status = 100 + status % 500;
            let mut resp = format!("HTTP/1.1 {status} X\r\nTransfer-Encoding: chunked\r\n\r\n").into_bytes();
            let mut want = Vec::new();
            for c in chunks.iter().filter(|c| !c.is_empty()) {
                resp.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                resp.extend_from_slice(c);
                resp.extend_from_slice(b"\r\n");
                want.extend_from_slice(c);
            }
            resp.extend_from_slice(b"0\r\n\r\n");
            let (got_status, body) = coffer::sigv4::parse_response(&resp).expect("a well-formed response parses");
            assert_eq!(got_status, status);
            assert_eq!(body, want);
        }
    }
});
