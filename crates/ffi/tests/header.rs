//! The checked-in `include/capstan.h` is exactly what cbindgen generates from the sources now.
//! `CAPSTAN_BLESS=1 cargo test -p capstan-ffi --test header` rewrites it after an API change.

use std::path::Path;

#[test]
fn the_checked_in_header_matches_the_sources() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml"))
        .unwrap_or_else(|e| panic!("cbindgen.toml: {e}"));
    let bindings = cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .unwrap_or_else(|e| panic!("cbindgen: {e}"));
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let path = dir.join("include/capstan.h");
    if std::env::var_os("CAPSTAN_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let checked_in = std::fs::read(&path).unwrap_or_default();
    if checked_in != generated {
        let old = String::from_utf8_lossy(&checked_in);
        let new = String::from_utf8_lossy(&generated);
        let first = old
            .lines()
            .zip(new.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| old.lines().count().min(new.lines().count()));
        panic!(
            "{} is out of date with crates/ffi/src (first difference at line {}: \
             checked in {:?}, generated {:?}); regenerate it with \
             CAPSTAN_BLESS=1 cargo test -p capstan-ffi --test header",
            path.display(),
            first + 1,
            old.lines().nth(first).unwrap_or("<end>"),
            new.lines().nth(first).unwrap_or("<end>"),
        );
    }
}
