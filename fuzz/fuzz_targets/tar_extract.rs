//! Tar archives from anywhere: safe extraction into a sandbox writes nothing outside its target
//! (the target's parent holds only the target afterwards), and the scanner reads the same bytes
//! as an archive without panicking.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use capstan::scan::{RuleSet, Rules, TreeScanner, WalkOptions};
use capstan::tar::extract;
use libfuzzer_sys::fuzz_target;

fn rules() -> &'static Rules {
    static RULES: OnceLock<Rules> = OnceLock::new();
    RULES.get_or_init(|| {
        Rules::compile(&RuleSet::builtin(&["secrets"]).expect("packs")).expect("compile")
    })
}

fn sandbox() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("capstan-fuzz-tar-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("sandbox");
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let root = sandbox();
    let dest = root.join("target");
    let _ = std::fs::remove_dir_all(&dest);
    std::fs::create_dir_all(&dest).expect("target");
    let _ = extract(data, &dest);
    let outside: Vec<_> = std::fs::read_dir(root)
        .expect("sandbox")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .filter(|n| n != "target")
        .collect();
    assert!(outside.is_empty(), "extraction wrote outside its target: {outside:?}");

    let scanner = TreeScanner::new(rules(), WalkOptions { threads: 1, ..WalkOptions::default() });
    let _ = scanner.scan_reader("fuzz.tar", &mut &data[..]);
});
