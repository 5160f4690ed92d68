//! docker/podman auth configs (`config.json`, `auth.json`): parsed and looked up, never
//! panicking; credential helpers are only named, never run.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| capstan::fuzzing::auth_config(data));
