//! Image references: parsing never panics, and a parsed reference prints as a reference that
//! parses back to itself.
#![no_main]

use capstan::auth::ImageRef;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(image) = text.parse::<ImageRef>() else {
        return;
    };
    let shown = image.to_string();
    let again: ImageRef = shown
        .parse()
        .unwrap_or_else(|e| panic!("{text:?} printed as {shown:?}, which does not parse: {e}"));
    assert_eq!(again.to_string(), shown, "{text:?}");
    assert_eq!(again.registry(), image.registry());
    let _ = image.credential_key();
    let _ = image.repository();
});
