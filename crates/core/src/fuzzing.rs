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

/// Resolves `manifest` as an image's root manifest or index through an in-memory store (every
/// manifest an index names is answered with the same bytes, so nested indexes are followed as
/// far as their digests allow), and reads `layer` as a layer: decompressed by its first bytes,
/// each member's path and whiteout checked against the layers below.
pub fn image(manifest: &[u8], layer: &[u8]) {
    use std::io::Read;

    use crate::image::manifest::Descriptor;
    use crate::image::store::{Root, Store, plan};
    use crate::image::{ImageError, decompress, is_whiteout, member_path, removed_in};

    struct Memory<'a>(&'a [u8]);
    impl Store for Memory<'_> {
        fn name(&self) -> &'static str {
            "fuzz"
        }
        fn root(&self) -> Result<Root, ImageError> {
            Ok(Root::Bytes(self.0.to_vec(), String::new(), None))
        }
        fn manifest(&self, _: &Descriptor) -> Result<Vec<u8>, ImageError> {
            Ok(self.0.to_vec())
        }
        fn blob(&self, _: &Descriptor) -> Result<Box<dyn Read + Send + '_>, ImageError> {
            Ok(Box::new(self.0))
        }
    }
    let _ = plan(&Memory(manifest), None);

    let Ok(mut plain) = decompress(layer) else {
        return;
    };
    let mut archive =
        crate::tar::ArchiveReader::new(&mut plain, crate::tar::TarLimits::streaming());
    let Ok(members) = archive.members() else {
        return;
    };
    let mut whiteouts = Vec::new();
    for member in members.take(1000) {
        let Ok(mut member) = member else { return };
        let name = member.name().into_owned();
        let path = member_path(&name);
        if is_whiteout(path) {
            whiteouts.push(path.to_owned());
        } else {
            let _ = std::io::copy(&mut (&mut member).take(1 << 20), &mut std::io::sink());
        }
        let lower: [&[String]; 2] = [&[], &whiteouts];
        let _ = removed_in(path, 0, &lower);
    }
}
