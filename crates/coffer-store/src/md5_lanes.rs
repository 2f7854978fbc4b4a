//! MD5 of large bodies, many at once. MD5 is one long dependency chain per stream, so one
//! core hashes one stream at about 600 MiB/s and was half the server's CPU on large PUTs
//! (perf, `docs/benchmarks.md`). With AVX-512 or AVX2 one core runs eight chains side by
//! side in about the time of one: a thread here takes the chunks of every large body being
//! written and hashes the bodies that have data in lockstep, one per 32-bit lane (MinIO's
//! md5-simd does the same). A body's writer never waits for the hash until it finishes,
//! unless it runs more than [`QUEUE_BYTES`] ahead.
//!
//! Bodies under [`LANES_FROM`], of unknown length, and every body on a CPU without AVX2
//! (or with `COFFER_MD5_LANES=off`) are hashed where they arrive, as before.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use md5::{Digest, Md5};
use tokio::sync::{Semaphore, oneshot};

/// Bodies this long or longer go to the lanes; below, the hand-off costs more than it saves.
pub const LANES_FROM: u64 = 1 << 20;

/// Bytes a body may have queued for hashing before its writer waits.
pub const QUEUE_BYTES: usize = 1 << 20;

/// Blocks one lockstep pass hashes before it looks for new bodies again.
const PASS_BLOCKS: usize = 256;

/// How long one body's data waits for another body's before it is hashed alone.
const LINGER: std::time::Duration = std::time::Duration::from_micros(300);

/// The MD5 of one body, fed chunk by chunk.
pub enum BodyMd5 {
    Here(Md5),
    Lanes(LaneStream),
}

impl BodyMd5 {
    /// A hasher for a body of `expected_len` bytes (if known).
    pub fn new(expected_len: Option<u64>) -> Self {
        // Small bodies never touch the engine, so a server without large ones never starts it.
        match expected_len.filter(|&n| n >= LANES_FROM).and_then(|_| engine()) {
            Some(e) => Self::Lanes(e.open()),
            None => Self::Here(Md5::new()),
        }
    }

    pub async fn update(&mut self, chunk: &Bytes) {
        match self {
            Self::Here(m) => m.update(chunk),
            Self::Lanes(s) => s.update(chunk.clone()).await,
        }
    }

    pub async fn finalize(self) -> [u8; 16] {
        match self {
            Self::Here(m) => m.finalize().into(),
            Self::Lanes(s) => s.finalize().await,
        }
    }
}

/// One body's place in the lanes thread. Dropped unfinished (the body failed), its lane is
/// freed.
pub struct LaneStream {
    id: u64,
    tx: mpsc::Sender<Msg>,
    room: Arc<Semaphore>,
    finished: bool,
}

impl LaneStream {
    async fn update(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        let want = permits(chunk.len());
        // The semaphore is never closed; the permits come back as the lane hashes.
        if let Ok(p) = self.room.acquire_many(want).await {
            p.forget();
        }
        let _ = self.tx.send(Msg::Data(self.id, chunk, self.room.clone()));
    }

    async fn finalize(mut self) -> [u8; 16] {
        self.finished = true;
        let (tx, rx) = oneshot::channel();
        let _ = self.tx.send(Msg::Finish(self.id, tx));
        rx.await.expect("the MD5 lanes thread runs for the life of the process")
    }
}

impl Drop for LaneStream {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.tx.send(Msg::Drop(self.id));
        }
    }
}

fn permits(len: usize) -> u32 {
    len.min(QUEUE_BYTES) as u32
}

enum Msg {
    Data(u64, Bytes, Arc<Semaphore>),
    Finish(u64, oneshot::Sender<[u8; 16]>),
    Drop(u64),
}

pub struct Engine {
    tx: mpsc::Sender<Msg>,
    next: AtomicU64,
}

impl Engine {
    fn start(kernel: Kernel) -> Self {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("coffer-md5-lanes".into())
            .spawn(move || run(&rx, kernel))
            .expect("spawn the MD5 lanes thread");
        Self {
            tx,
            next: AtomicU64::new(0),
        }
    }

    pub fn open(&self) -> LaneStream {
        LaneStream {
            id: self.next.fetch_add(1, Ordering::Relaxed),
            tx: self.tx.clone(),
            room: Arc::new(Semaphore::new(QUEUE_BYTES)),
            finished: false,
        }
    }
}

/// The lanes thread, if this CPU has AVX2 or AVX-512 and it is not switched off.
pub fn engine() -> Option<&'static Engine> {
    static ENGINE: OnceLock<Option<Engine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let choice = std::env::var("COFFER_MD5_LANES").unwrap_or_default();
            Kernel::best(&choice).map(Engine::start)
        })
        .as_ref()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kernel {
    /// One stream after another: the reference the tests hold the others to.
    #[cfg_attr(not(test), allow(dead_code))]
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Avx512,
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl Kernel {
    /// The fastest this CPU runs; `choice` (`COFFER_MD5_LANES`) may ask for `off` or `avx2`.
    fn best(choice: &str) -> Option<Self> {
        #[cfg(target_arch = "x86_64")]
        {
            if choice == "off" || choice == "0" {
                return None;
            }
            if choice != "avx2" && kernel::avx512::available() {
                return Some(Self::Avx512);
            }
            kernel::avx2::available().then_some(Self::Avx2)
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = choice;
            None
        }
    }

    /// Eight lanes; only the vector kernels are ever given more than one.
    fn compress8(self, state: &mut [[u32; kernel::LANES]; 4], blocks: [Option<&[u8; 64]>; kernel::LANES]) {
        match self {
            Self::Scalar => unreachable!("the scalar engine hashes one lane at a time"),
            // SAFETY: `best` picked each kernel only where its `available` said so (and the
            // tests only where it says so).
            #[cfg(target_arch = "x86_64")]
            Self::Avx512 => unsafe { kernel::avx512::compress8(state, blocks) },
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => unsafe { kernel::avx2::compress8(state, blocks) },
        }
    }
}

/// A body being hashed: its chunks not yet hashed, and a partial block between chunks.
struct Lane {
    state: [u32; 4],
    total: u64,
    chunks: VecDeque<(Bytes, Arc<Semaphore>)>,
    /// Bytes of the front chunk already hashed.
    pos: usize,
    carry: [u8; 64],
    carry_len: usize,
    finish: Option<oneshot::Sender<[u8; 16]>>,
}

impl Lane {
    fn new() -> Self {
        Self {
            state: kernel::INIT,
            total: 0,
            chunks: VecDeque::new(),
            pos: 0,
            carry: [0; 64],
            carry_len: 0,
            finish: None,
        }
    }

    fn pop_front(&mut self) {
        if let Some((c, room)) = self.chunks.pop_front() {
            room.add_permits(permits(c.len()) as usize);
        }
        self.pos = 0;
    }

    /// Whole blocks ready to hash in one contiguous slice, moving bytes that straddle
    /// chunks into `carry`. None: less than a block is waiting.
    fn ready(&mut self) -> Option<usize> {
        loop {
            if self.carry_len == 64 {
                return Some(1);
            }
            let (front, _) = self.chunks.front()?;
            let left = &front[self.pos..];
            if self.carry_len == 0 && left.len() >= 64 {
                return Some(left.len() / 64);
            }
            let n = left.len().min(64 - self.carry_len);
            self.carry[self.carry_len..self.carry_len + n].copy_from_slice(&left[..n]);
            self.carry_len += n;
            self.pos += n;
            if self.pos == front.len() {
                self.pop_front();
            }
        }
    }

    /// Block `i` of what [`Lane::ready`] offered.
    fn block(&self, i: usize) -> &[u8; 64] {
        if self.carry_len == 64 {
            return &self.carry;
        }
        let (front, _) = self.chunks.front().expect("ready offered blocks");
        let at = self.pos + 64 * i;
        front[at..at + 64].try_into().expect("a 64-byte slice")
    }

    fn consume(&mut self, blocks: usize) {
        if self.carry_len == 64 {
            self.carry_len = 0;
            return;
        }
        self.pos += 64 * blocks;
        if self.chunks.front().is_some_and(|(c, _)| self.pos == c.len()) {
            self.pop_front();
        }
    }

    /// Everything received is hashed but the last partial block: pad and finish.
    fn digest(&mut self) -> [u8; 16] {
        debug_assert!(self.chunks.is_empty());
        let mut tail = [0u8; 128];
        tail[..self.carry_len].copy_from_slice(&self.carry[..self.carry_len]);
        tail[self.carry_len] = 0x80;
        let end = if self.carry_len < 56 { 64 } else { 128 };
        tail[end - 8..end].copy_from_slice(&(self.total.wrapping_mul(8)).to_le_bytes());
        for b in tail[..end].chunks_exact(64) {
            kernel::compress(&mut self.state, b.try_into().expect("a 64-byte slice"));
        }
        let mut out = [0u8; 16];
        for (o, w) in out.chunks_exact_mut(4).zip(self.state) {
            o.copy_from_slice(&w.to_le_bytes());
        }
        out
    }
}

fn run(rx: &mpsc::Receiver<Msg>, kernel: Kernel) {
    let mut lanes: HashMap<u64, Lane> = HashMap::new();
    let mut lingered = false;
    loop {
        while let Ok(m) = rx.try_recv() {
            take(&mut lanes, m);
        }
        let ready = lanes.values_mut().filter_map(Lane::ready).count();
        // A pass of one lane costs what a pass of eight does: when other bodies are open
        // but have nothing queued, give them a moment to send, once.
        let others = lanes.values().any(|l| l.finish.is_none() && l.chunks.is_empty());
        if ready == 1 && others && !lingered && kernel != Kernel::Scalar {
            match rx.recv_timeout(LINGER) {
                Ok(m) => take(&mut lanes, m),
                Err(mpsc::RecvTimeoutError::Timeout) => lingered = true,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
            continue;
        }
        if ready == 0 {
            finish_done(&mut lanes);
            match rx.recv() {
                Ok(m) => take(&mut lanes, m),
                Err(_) => return,
            }
            continue;
        }
        pass(&mut lanes, kernel);
        lingered = false;
        finish_done(&mut lanes);
    }
}

/// Sends the digest of every finished body whose bytes are all hashed.
fn finish_done(lanes: &mut HashMap<u64, Lane>) {
    lanes.retain(|_, l| {
        if l.finish.is_none() || !l.chunks.is_empty() || l.carry_len == 64 {
            return true;
        }
        let d = l.digest();
        let _ = l.finish.take().expect("checked").send(d);
        false
    });
}

fn take(lanes: &mut HashMap<u64, Lane>, m: Msg) {
    match m {
        Msg::Data(id, chunk, room) => {
            let lane = lanes.entry(id).or_insert_with(Lane::new);
            lane.total += chunk.len() as u64;
            lane.chunks.push_back((chunk, room));
        }
        Msg::Finish(id, tx) => lanes.entry(id).or_insert_with(Lane::new).finish = Some(tx),
        // Its stream, the only one waiting on its permits, is gone.
        Msg::Drop(id) => {
            lanes.remove(&id);
        }
    }
}

/// Hashes up to [`PASS_BLOCKS`] blocks of up to eight lanes that have data, in lockstep;
/// a lane alone, everything it has queued.
fn pass(lanes: &mut HashMap<u64, Lane>, kernel: Kernel) {
    let lanes_at_once = if kernel == Kernel::Scalar { 1 } else { kernel::LANES };
    let mut group: Vec<(&mut Lane, usize)> = lanes
        .values_mut()
        .filter_map(|l| l.ready().map(|n| (l, n)))
        .take(lanes_at_once)
        .collect();
    if let [(l, _)] = &mut group[..] {
        while let Some(n) = l.ready() {
            for i in 0..n {
                let b = *l.block(i);
                kernel::compress(&mut l.state, &b);
            }
            l.consume(n);
        }
        return;
    }
    let Some(k) = group.iter().map(|(_, n)| *n).min() else {
        return;
    };
    let k = k.min(PASS_BLOCKS);
    let mut state = [[0u32; kernel::LANES]; 4];
    for (j, (l, _)) in group.iter().enumerate() {
        for (w, s) in state.iter_mut().enumerate() {
            s[j] = l.state[w];
        }
    }
    for i in 0..k {
        let blocks = std::array::from_fn(|j| group.get(j).map(|(l, _)| l.block(i)));
        kernel.compress8(&mut state, blocks);
    }
    for (j, (l, _)) in group.iter_mut().enumerate() {
        for (w, s) in state.iter().enumerate() {
            l.state[w] = s[j];
        }
        l.consume(k);
    }
}

/// MD5's compression function, for one stream and for eight.
mod kernel {
    const RC: [u32; 64] = [
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501, 0x698098d8,
        0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340,
        0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87,
        0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
        0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039,
        0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92,
        0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
        0xeb86d391,
    ];

    /// Rotations, four per round.
    const S: [u32; 16] = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];

    /// The message word that step `i` adds.
    const fn word(i: usize) -> usize {
        match i / 16 {
            0 => i,
            1 => (1 + 5 * i) % 16,
            2 => (5 + 3 * i) % 16,
            _ => (7 * i) % 16,
        }
    }

    /// The rotation of step `i`.
    const fn shift(i: usize) -> u32 {
        S[(i / 16) * 4 + i % 4]
    }

    pub const INIT: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

    /// One round: sixteen `$step!(n, f)`, unrolled so that every rotation and message index
    /// is a constant.
    macro_rules! sixteen {
        ($step:ident, $base:expr, $f:ident) => {
            $step!($base, $f);
            $step!($base + 1, $f);
            $step!($base + 2, $f);
            $step!($base + 3, $f);
            $step!($base + 4, $f);
            $step!($base + 5, $f);
            $step!($base + 6, $f);
            $step!($base + 7, $f);
            $step!($base + 8, $f);
            $step!($base + 9, $f);
            $step!($base + 10, $f);
            $step!($base + 11, $f);
            $step!($base + 12, $f);
            $step!($base + 13, $f);
            $step!($base + 14, $f);
            $step!($base + 15, $f);
        };
    }

    pub fn compress(state: &mut [u32; 4], block: &[u8; 64]) {
        let mut x = [0u32; 16];
        for (o, c) in x.iter_mut().zip(block.chunks_exact(4)) {
            *o = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        let [mut a, mut b, mut c, mut d] = *state;
        let f = |b: u32, c: u32, d: u32| ((c ^ d) & b) ^ d;
        let g = |b: u32, c: u32, d: u32| (b & d).wrapping_add(c & !d);
        let h = |b: u32, c: u32, d: u32| b ^ c ^ d;
        let i = |b: u32, c: u32, d: u32| c ^ (b | !d);
        macro_rules! step {
            ($i:expr, $f:expr) => {{
                let t = a.wrapping_add(RC[$i]).wrapping_add(x[word($i)]);
                let t = t.wrapping_add($f(b, c, d)).rotate_left(shift($i));
                a = d;
                d = c;
                c = b;
                b = b.wrapping_add(t);
            }};
        }
        sixteen!(step, 0, f);
        sixteen!(step, 16, g);
        sixteen!(step, 32, h);
        sixteen!(step, 48, i);
        for (s, v) in state.iter_mut().zip([a, b, c, d]) {
            *s = s.wrapping_add(v);
        }
    }

    /// Lanes one call hashes. 256-bit vectors: on this repository's AMD EPYC, 512-bit
    /// ones run at half the rate, and eight lanes of 256 bits outran sixteen of 512 (3.3
    /// against 2.9 GiB/s, and twice as fast with four bodies).
    pub const LANES: usize = 8;

    /// One kernel per instruction set: `$f`..`$i` are MD5's round functions on (b, c, d),
    /// `$rol` a rotation by a constant.
    macro_rules! compress8 {
        ($features:literal, $f:ident, $g:ident, $h:ident, $i:ident, $rol:ident) => {
            /// Eight streams, one block each: lane `l` hashes `blocks[l]` into the `l`th
            /// element of each `state` word. A lane without a block hashes zeros; its state
            /// is the caller's to ignore.
            ///
            /// # Safety
            /// The CPU must have what `available` checks.
            #[target_feature(enable = $features)]
            pub unsafe fn compress8(state: &mut [[u32; LANES]; 4], blocks: [Option<&[u8; 64]>; LANES]) {
                use crate::md5_lanes::kernel::{RC, shift, word};
                // Word-major, so each message word of all lanes is one load.
                let mut m = [[0u32; LANES]; 16];
                for (l, b) in blocks.iter().enumerate() {
                    if let Some(b) = b {
                        for (w, c) in b.chunks_exact(4).enumerate() {
                            m[w][l] = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                        }
                    }
                }
                let ld = |p: &[u32; LANES]| {
                    // SAFETY: 8 u32s; loadu takes any alignment.
                    unsafe { _mm256_loadu_si256(p.as_ptr().cast()) }
                };
                let (a0, b0, c0, d0) = (ld(&state[0]), ld(&state[1]), ld(&state[2]), ld(&state[3]));
                let (mut a, mut b, mut c, mut d) = (a0, b0, c0, d0);
                macro_rules! step {
                    ($n:expr, $fun:ident) => {{
                        let t = _mm256_add_epi32(
                            _mm256_add_epi32(a, _mm256_set1_epi32(RC[$n] as i32)),
                            ld(&m[word($n)]),
                        );
                        let t = $rol::<{ shift($n) as i32 }>(_mm256_add_epi32(t, $fun(b, c, d)));
                        a = d;
                        d = c;
                        c = b;
                        b = _mm256_add_epi32(b, t);
                    }};
                }
                sixteen!(step, 0, $f);
                sixteen!(step, 16, $g);
                sixteen!(step, 32, $h);
                sixteen!(step, 48, $i);
                let st = |p: &mut [u32; LANES], v| {
                    // SAFETY: 8 u32s; storeu takes any alignment.
                    unsafe { _mm256_storeu_si256(p.as_mut_ptr().cast(), v) }
                };
                st(&mut state[0], _mm256_add_epi32(a, a0));
                st(&mut state[1], _mm256_add_epi32(b, b0));
                st(&mut state[2], _mm256_add_epi32(c, c0));
                st(&mut state[3], _mm256_add_epi32(d, d0));
            }
        };
    }

    /// AVX-512VL: each round function is one ternary-logic instruction (truth tables over
    /// b, c, d), each rotation one instruction.
    #[cfg(target_arch = "x86_64")]
    pub mod avx512 {
        use super::LANES;
        use std::arch::x86_64::*;

        pub fn available() -> bool {
            is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vl")
        }

        #[inline]
        #[target_feature(enable = "avx512f,avx512vl")]
        fn f(b: __m256i, c: __m256i, d: __m256i) -> __m256i {
            _mm256_ternarylogic_epi32::<0xCA>(b, c, d)
        }
        #[inline]
        #[target_feature(enable = "avx512f,avx512vl")]
        fn g(b: __m256i, c: __m256i, d: __m256i) -> __m256i {
            _mm256_ternarylogic_epi32::<0xE4>(b, c, d)
        }
        #[inline]
        #[target_feature(enable = "avx512f,avx512vl")]
        fn h(b: __m256i, c: __m256i, d: __m256i) -> __m256i {
            _mm256_ternarylogic_epi32::<0x96>(b, c, d)
        }
        #[inline]
        #[target_feature(enable = "avx512f,avx512vl")]
        fn i(b: __m256i, c: __m256i, d: __m256i) -> __m256i {
            _mm256_ternarylogic_epi32::<0x39>(b, c, d)
        }
        #[inline]
        #[target_feature(enable = "avx512f,avx512vl")]
        fn rol<const S: i32>(x: __m256i) -> __m256i {
            _mm256_rol_epi32::<S>(x)
        }

        compress8!("avx512f,avx512vl", f, g, h, i, rol);
    }

    /// AVX2, for CPUs without AVX-512: two to three instructions per round function and
    /// three per rotation.
    #[cfg(target_arch = "x86_64")]
    pub mod avx2 {
        use super::LANES;
        use std::arch::x86_64::*;

        pub fn available() -> bool {
            is_x86_feature_detected!("avx2")
        }

        #[inline]
        #[target_feature(enable = "avx2")]
        fn f(b: __m256i, c: __m256i, d: __m256i) -> __m256i {
            _mm256_xor_si256(_mm256_and_si256(_mm256_xor_si256(c, d), b), d)
        }
        #[inline]
        #[target_feature(enable = "avx2")]
        fn g(b: __m256i, c: __m256i, d: __m256i) -> __m256i {
            _mm256_or_si256(_mm256_and_si256(b, d), _mm256_andnot_si256(d, c))
        }
        #[inline]
        #[target_feature(enable = "avx2")]
        fn h(b: __m256i, c: __m256i, d: __m256i) -> __m256i {
            _mm256_xor_si256(_mm256_xor_si256(b, c), d)
        }
        #[inline]
        #[target_feature(enable = "avx2")]
        fn i(b: __m256i, c: __m256i, d: __m256i) -> __m256i {
            _mm256_xor_si256(c, _mm256_or_si256(b, _mm256_xor_si256(d, _mm256_set1_epi32(-1))))
        }
        #[inline]
        #[target_feature(enable = "avx2")]
        fn rol<const S: i32>(x: __m256i) -> __m256i {
            let left = _mm256_sll_epi32(x, _mm_cvtsi32_si128(S));
            _mm256_or_si256(left, _mm256_srl_epi32(x, _mm_cvtsi32_si128(32 - S)))
        }

        compress8!("avx2", f, g, h, i, rol);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn bodies(rng: &mut impl Rng, n: usize) -> Vec<Vec<u8>> {
        let sizes = [0usize, 1, 55, 56, 63, 64, 65, 119, 120, 128, 4096, 100_003, 1 << 20];
        (0..n)
            .map(|_| {
                let len = sizes[rng.random_range(0..sizes.len())] + rng.random_range(0..3usize);
                let mut v = vec![0u8; len];
                rng.fill(&mut v[..]);
                v
            })
            .collect()
    }

    /// Feeds every body to its own stream in random chunks, interleaved, and checks each
    /// digest against the md-5 crate's.
    async fn check(engine: &Engine, seed: u64) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let n = 1 + rng.random_range(0..24usize);
        let bodies = bodies(&mut rng, n);
        let mut streams: Vec<_> = bodies.iter().map(|_| engine.open()).collect();
        let mut at = vec![0usize; bodies.len()];
        while at.iter().zip(&bodies).any(|(a, b)| a < &b.len()) {
            let i = rng.random_range(0..bodies.len());
            let left = bodies[i].len() - at[i];
            if left == 0 {
                continue;
            }
            let n = rng.random_range(1..=left.min(70_000));
            streams[i]
                .update(Bytes::copy_from_slice(&bodies[i][at[i]..at[i] + n]))
                .await;
            at[i] += n;
        }
        // One stream given up half-way must not disturb the others.
        let mut dropped = engine.open();
        dropped.update(Bytes::from(vec![1u8; 1000])).await;
        drop(dropped);
        for (s, b) in streams.into_iter().zip(&bodies) {
            let want: [u8; 16] = Md5::digest(b).into();
            assert_eq!(s.finalize().await, want, "seed {seed}, {} bytes", b.len());
        }
    }

    #[tokio::test]
    async fn interleaved_bodies_hash_as_md5_does() {
        let mut engines = vec![Engine::start(Kernel::Scalar)];
        #[cfg(target_arch = "x86_64")]
        {
            if kernel::avx512::available() {
                engines.push(Engine::start(Kernel::Avx512));
            }
            if kernel::avx2::available() {
                engines.push(Engine::start(Kernel::Avx2));
            }
        }
        for seed in 0..12 {
            for e in &engines {
                check(e, seed).await;
            }
        }
    }

    #[tokio::test]
    async fn a_body_ahead_of_its_hash_waits_for_room() {
        let Some(e) = engine() else { return };
        let mut s = e.open();
        // Twenty times the queue, in chunks bigger than it: each update waits for room.
        let chunk = Bytes::from(vec![7u8; QUEUE_BYTES + 1]);
        let mut want = Md5::new();
        for _ in 0..20 {
            s.update(chunk.clone()).await;
            want.update(&chunk);
            assert!(s.room.available_permits() <= QUEUE_BYTES);
        }
        assert_eq!(s.finalize().await, <[u8; 16]>::from(want.finalize()));
    }

    #[tokio::test]
    async fn small_and_unknown_lengths_hash_where_they_arrive() {
        assert!(matches!(BodyMd5::new(None), BodyMd5::Here(_)));
        assert!(matches!(BodyMd5::new(Some(LANES_FROM - 1)), BodyMd5::Here(_)));
        let big = BodyMd5::new(Some(LANES_FROM));
        assert_eq!(matches!(big, BodyMd5::Lanes(_)), engine().is_some());
        let data = Bytes::from(vec![3u8; 5 << 20]);
        let mut h = big;
        h.update(&data).await;
        assert_eq!(h.finalize().await, <[u8; 16]>::from(Md5::digest(&data)));
    }
}
