//! Tar archives from anywhere: safe extraction into a sandbox writes nothing outside its target
//! (the target sits three levels down; afterwards every level above it holds only the next
//! one), and the scanner reads the same bytes as an archive without panicking.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use capstan::scan::{RuleSet, Rules, TreeScanner, WalkOptions};
use capstan::tar::{TarLimits, extract_limited};
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

/// Makes everything below `dir` removable (an archive may set mode 000 on its directories).
fn unlock(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.filter_map(Result::ok) {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                unlock(&e.path());
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let root = sandbox();
    let levels = [root.clone(), root.join("a"), root.join("a/b")];
    let dest = root.join("a/b/target");
    unlock(root);
    let _ = std::fs::remove_dir_all(&dest);
    std::fs::create_dir_all(&dest).expect("target");
    let _ = extract_limited(data, &dest, TarLimits::default());
    for (level, only) in levels.iter().zip(["a", "b", "target"]) {
        let names: Vec<_> = std::fs::read_dir(level)
            .expect("sandbox")
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        assert!(
            names.len() == 1 && names[0] == only,
            "extraction wrote outside its target, beside {only}: {names:?}"
        );
    }

    let scanner = TreeScanner::new(rules(), WalkOptions { threads: 1, ..WalkOptions::default() });
    let _ = scanner.scan_reader("fuzz.tar", &mut &data[..]);
});
