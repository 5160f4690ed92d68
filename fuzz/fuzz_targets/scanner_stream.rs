//! The streaming scanner against the one-shot scan: the first bytes choose chunk sizes, the
//! rest is the input; findings must be identical however the input is cut.
#![no_main]

use std::sync::OnceLock;

use capstan::scan::{RuleSet, Rules, Scanner};
use libfuzzer_sys::fuzz_target;

fn rules() -> &'static Rules {
    static RULES: OnceLock<Rules> = OnceLock::new();
    RULES.get_or_init(|| Rules::compile(&RuleSet::builtin_all().expect("packs")).expect("compile"))
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let (sizes, input) = data.split_at(4);
    let whole = rules().scan_bytes("fuzz/input.txt", input);
    let mut s = Scanner::new(rules()).path("fuzz/input.txt");
    let mut rest = input;
    let mut k = 0;
    while !rest.is_empty() {
        let n = (usize::from(sizes[k % 4]) + 1).min(rest.len());
        s.feed(&rest[..n]);
        rest = &rest[n..];
        k += 1;
    }
    assert_eq!(s.finish(), whole, "chunked scan differs from the one-shot scan");
});
