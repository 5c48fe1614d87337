#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use talentcert::fuzz_targets::Credentials;

static TARGET: OnceLock<Credentials> = OnceLock::new();

fuzz_target!(|data: &[u8]| TARGET.get_or_init(Credentials::new).check(data));
