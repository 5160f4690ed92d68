//! Image manifests, indexes and layers from an untrusted registry: resolving a manifest (index
//! nesting, platforms, digests) and reading a layer (gzip, zstd or plain; tar members,
//! whiteouts) never panic. The input is the manifest, a NUL, then the layer's bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (manifest, layer) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    capstan::fuzzing::image(manifest, layer);
});
