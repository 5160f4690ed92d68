//! Rule configs (capstan's format and gitleaks', with RE2 → Rust regex translation): any bytes
//! either load and compile or give an error; compiled rules then scan a sample without panic.
#![no_main]

use capstan::scan::{RuleSet, Rules};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(set) = RuleSet::from_toml(text) else {
        return;
    };
    if let Ok(rules) = Rules::compile(&set) {
        let _ = rules.scan_bytes("fuzz/sample.env", text.as_bytes());
    }
});
