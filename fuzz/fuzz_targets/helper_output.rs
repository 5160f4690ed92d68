//! A credential helper's answer: exit code (first byte), stdout and stderr (split at the first
//! NUL) interpreted without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&code, rest)) = data.split_first() else {
        return;
    };
    let (out, err) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &b""[..]),
    };
    capstan::fuzzing::helper_output(code, out, err);
});
