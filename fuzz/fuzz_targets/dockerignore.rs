//! `.dockerignore`: the patterns are the input up to the first NUL, the paths to match the rest
//! (one per line). Parsing never panics; matching is consistent with `may_include_below`.
#![no_main]

use capstan::tar::DockerIgnore;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (patterns, paths) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(ignore) = DockerIgnore::parse(&String::from_utf8_lossy(patterns)) else {
        return;
    };
    for path in String::from_utf8_lossy(paths).lines().take(32) {
        // The walker only asks about clean relative names.
        if path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
        {
            continue;
        }
        let excluded = ignore.is_excluded(path, false);
        let _ = ignore.is_excluded(path, true);
        // A file inside a directory nothing can re-include below is excluded.
        if let Some((dir, _)) = path.rsplit_once('/') {
            if !dir.is_empty() && ignore.is_excluded(dir, true) && !ignore.may_include_below(dir) {
                assert!(excluded, "{path:?} included below {dir:?}, which is closed");
            }
        }
    }
});
