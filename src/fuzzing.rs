//! A small mutational fuzzer for the parsers that read untrusted input, run as ordinary tests on
//! the stable toolchain (cargo-fuzz needs nightly): each target starts from its seeds (the files
//! in `fuzz/corpus/<target>/` and inputs built here), mutates them with a fixed-seed generator,
//! and must never panic. A failing input is written to `target/fuzz-failures/` and printed, to
//! be added to the corpus once fixed. `TALENTCERT_FUZZ_ITERATIONS` sets the rounds per target
//! (default 20,000, seconds each; a tenth of that for PDFs); `TALENTCERT_FUZZ_SEED` varies the generator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

/// Mutations per target: `TALENTCERT_FUZZ_ITERATIONS`, default 20,000.
fn rounds() -> usize {
    std::env::var("TALENTCERT_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

/// xorshift64*: enough to mutate, and reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap_or(1)).unwrap_or(0)
    }
}

/// Byte strings that mean something to one of the formats.
const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"~",
    b"=",
    b"#",
    b"->",
    b"::",
    b"%",
    b"..",
    b":",
    b"\\",
    b"\n",
    b"\r\n",
    b"\"",
    b",",
    b"$CATEGORY:",
    b"[id:",
    b"]",
    b"TRUE",
    b"F",
    b"1e309",
    b"-0",
    b"NaN",
    b"\0",
    "用户运营".as_bytes(),
    b"\xEF\xBB\xBF",
    b"\xFF\xFE",
    b"\xC0\xEE",
    b".",
    b"eyJ",
    b"====",
    b"%PDF-1.7",
    b"obj",
    b"endobj",
    b"<<",
    b">>",
    b"stream\n",
    b"/Length 99999999",
];

fn mutate(rng: &mut Rng, input: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(8) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 => out.insert(at.min(out.len()), u8::try_from(rng.below(256)).unwrap_or(0)),
            2 if !out.is_empty() => {
                let end = (at + rng.below(16) + 1).min(out.len());
                out.drain(at.min(end)..end);
            }
            3 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                let at = at.min(out.len());
                out.splice(at..at, token.iter().copied());
            }
            4 if !out.is_empty() => {
                // Repeat a chunk (deep nesting, long lines).
                let start = rng.below(out.len());
                let end = (start + rng.below(32) + 1).min(out.len());
                let chunk = out[start..end].to_vec();
                for _ in 0..rng.below(64) {
                    out.splice(start..start, chunk.iter().copied());
                }
            }
            5 => out.truncate(at),
            6 if !corpus.is_empty() => {
                // Splice in part of another seed.
                let other = &corpus[rng.below(corpus.len())];
                let start = rng.below(other.len());
                let end = (start + rng.below(64)).min(other.len());
                let at = at.min(out.len());
                out.splice(at..at, other[start..end].iter().copied());
            }
            _ => {}
        }
    }
    out
}

fn seeds(target: &str, extra: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut out = extra;
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let mut files: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        files.sort();
        for file in files {
            out.push(std::fs::read(&file).unwrap());
        }
    }
    out.push(Vec::new());
    out
}

/// Runs `check` on every seed, then on mutations of them; panics name the input.
fn fuzz(target: &str, extra: Vec<Vec<u8>>, check: impl Fn(&[u8])) {
    fuzz_rounds(target, extra, 1, check);
}

/// [`fuzz`] with `1/divisor` of the rounds, for slow checks.
fn fuzz_rounds(target: &str, extra: Vec<Vec<u8>>, divisor: usize, check: impl Fn(&[u8])) {
    let corpus = seeds(target, extra);
    let iterations = rounds() / divisor.max(1);
    let seed: u64 = std::env::var("TALENTCERT_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x007A_1E27_CE27_u64);
    let mut rng = Rng(seed | 1);
    let inputs = corpus.iter().cloned().chain((0..iterations).map(|_| {
        let base = &corpus[rng.below(corpus.len())];
        mutate(&mut rng, base, &corpus)
    }));
    for input in inputs {
        if catch_unwind(AssertUnwindSafe(|| check(&input))).is_err() {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-failures");
            let _ = std::fs::create_dir_all(&dir);
            let file = dir.join(format!("{target}-{:016x}", rng.next()));
            let _ = std::fs::write(&file, &input);
            panic!(
                "{target} panicked on {} (saved to {}): {:?}",
                input.len(),
                file.display(),
                String::from_utf8_lossy(&input[..input.len().min(400)])
            );
        }
    }
}

#[test]
fn gift_parser_never_panics_and_what_it_reads_writes_back() {
    fuzz("gift", Vec::new(), crate::fuzz_targets::gift);
}

#[test]
fn roster_reader_never_panics() {
    fuzz("roster", Vec::new(), crate::fuzz_targets::roster);
}

#[test]
fn framework_reader_never_panics() {
    fuzz("framework", Vec::new(), crate::fuzz_targets::framework);
}

#[test]
fn content_loader_never_panics() {
    // Each round writes and reads a folder of five files: a twentieth of the rounds.
    fuzz_rounds("content", Vec::new(), 20, crate::fuzz_targets::content);
}

#[test]
fn credential_checks_never_panic() {
    let target = crate::fuzz_targets::Credentials::new();
    assert!(target.seed_verifies(), "the seed verifies");
    // Unoptimised test builds check an Ed25519 signature in milliseconds: a twentieth of the
    // rounds.
    fuzz_rounds(
        "credential",
        vec![target.seed.clone().into_bytes()],
        20,
        |bytes| target.check(bytes),
    );
}

#[test]
fn pdf_credential_extraction_never_panics() {
    let data = crate::certificates::pdf::tests::sample("Zoë Ørsted");
    let pdf =
        crate::certificates::pdf::render(&data, "https://certs.example.com/verify/X", "a.b.c")
            .unwrap();
    // PDFs are slower to read: a tenth of the rounds.
    fuzz_rounds("pdf", vec![pdf], 10, crate::fuzz_targets::pdf);
}
