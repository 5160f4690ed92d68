//! Entry points for `fuzz/` (feature `fuzzing`): internal parsers, driven with arbitrary bytes.
//! Not an API; nothing here runs a program or touches the network.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;

use crate::auth::ImageRef;
use crate::auth::creds::{Found, entry_credentials, find, helper_answer, parse_config};

/// Parses `bytes` as a docker/podman auth config and looks up a few images in it, decoding any
/// `auths` entry found (credential helpers are named, never run).
pub fn auth_config(bytes: &[u8]) {
    let path = Path::new("fuzz/config.json");
    let Ok(cfg) = parse_config(bytes, path) else {
        return;
    };
    for image in [
        "alpine",
        "ghcr.io/org/team/app:1",
        "localhost:5000/x",
        "[::1]:5000/a/b@sha256:0000000000000000000000000000000000000000000000000000000000000000",
    ] {
        let Ok(image) = image.parse::<ImageRef>() else {
            continue;
        };
        if let Found::Entry(entry) = find(&cfg, &image)
            && let Ok(c) = entry_credentials(entry, path, image.registry())
        {
            let _ = c.registry_auth_header(image.credential_key());
        }
    }
}

/// Interprets `out` and `err` as a credential helper's answer with exit code `code`.
pub fn helper_output(code: u8, out: &[u8], err: &[u8]) {
    let status = std::process::ExitStatus::from_raw(i32::from(code) << 8);
    if let Ok(c) = helper_answer("fuzz", status, out, err) {
        let _ = c.registry_auth_header("registry.example");
        let _ = c.basic_authorization();
    }
}
