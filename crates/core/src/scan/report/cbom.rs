//! `CycloneDX` 1.6 CBOM: one `cryptographic-asset` component per (algorithm, primitive) that the
//! crypto rules found, each with the findings as its occurrences.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io;

use serde_json::{Value, json};

use super::ReportMeta;
use super::sarif::relative_path;
use crate::scan::{CryptoInfo, Finding};

/// `CycloneDX` primitives a rule may name directly.
const PRIMITIVES: [&str; 15] = [
    "drbg",
    "mac",
    "block-cipher",
    "stream-cipher",
    "signature",
    "hash",
    "pke",
    "xof",
    "kdf",
    "key-agree",
    "kem",
    "ae",
    "combiner",
    "other",
    "unknown",
];
/// The block-cipher modes `CycloneDX` names.
const MODES: [&str; 7] = ["cbc", "ecb", "ccm", "gcm", "cfb", "ofb", "ctr"];
/// The protocol types `CycloneDX` names.
const PROTOCOLS: [&str; 6] = ["tls", "ssh", "ipsec", "ike", "sstp", "wpa"];

type Group<'a> = Vec<(&'a Finding, &'a CryptoInfo)>;

/// Writes the crypto findings (those with [`Finding::crypto`]) as a `CycloneDX` 1.6 CBOM
/// (pretty-printed JSON and a newline); other findings are ignored.
///
/// Components are sorted by (algorithm, primitive). The serial number is a UUID hashed from the
/// tool version, the timestamp (if any) and each crypto finding's fingerprint and position, so
/// the same scan gives the same bytes. Protocol findings become `protocol` assets whose type is
/// the rules' common tag (`tls`, `ssh`, ...) or `other`.
pub fn write_cbom<W: io::Write>(
    mut out: W,
    findings: &[Finding],
    meta: &ReportMeta,
) -> io::Result<()> {
    let mut groups: BTreeMap<(&str, &str), Group<'_>> = BTreeMap::new();
    let mut serial = blake3::Hasher::new();
    serial.update(b"capstan-cbom\0");
    serial.update(meta.version().as_bytes());
    serial.update(b"\0");
    serial.update(meta.timestamp.as_deref().unwrap_or("").as_bytes());
    for f in findings {
        let Some(info) = &f.crypto else { continue };
        groups
            .entry((info.algorithm.as_str(), info.primitive.as_str()))
            .or_default()
            .push((f, info));
        let pos = format!(
            "\0{}\0{}\0{}\0{}\0{}",
            f.fingerprint, f.path, f.line, f.column, f.rule_id
        );
        serial.update(pos.as_bytes());
    }
    let mut refs = BTreeSet::new();
    let components: Vec<Value> = groups
        .iter()
        .map(|((alg, prim), group)| component(alg, prim, group, &mut refs, meta))
        .collect();

    let mut metadata = json!({ "tools": { "components": [{
        "type": "application",
        "name": "capstan",
        "version": meta.version(),
    }]}});
    if let Some(ts) = &meta.timestamp {
        metadata["timestamp"] = json!(ts);
    }
    let bom = json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": uuid_urn(serial.finalize().as_bytes()),
        "version": 1,
        "metadata": metadata,
        "components": components,
    });
    serde_json::to_writer_pretty(&mut out, &bom)?;
    out.write_all(b"\n")
}

fn component(
    alg: &str,
    prim: &str,
    group: &Group<'_>,
    refs: &mut BTreeSet<String>,
    meta: &ReportMeta,
) -> Value {
    let weak = group
        .iter()
        .any(|(_, c)| matches!(c.quantum_class.as_str(), "vulnerable" | "weak"));
    let (asset_type, crypto) = if prim == "protocol" {
        let kind = PROTOCOLS
            .into_iter()
            .find(|p| group.iter().all(|(f, _)| f.tags.iter().any(|t| t == p)))
            .unwrap_or("other");
        (
            "protocol",
            json!({ "assetType": "protocol", "protocolProperties": { "type": kind } }),
        )
    } else {
        let mut props = json!({ "primitive": primitive(alg, prim) });
        let mode = alg.to_ascii_lowercase();
        if prim == "mode" && MODES.contains(&mode.as_str()) {
            props["mode"] = json!(mode);
        }
        if weak {
            props["nistQuantumSecurityLevel"] = json!(0);
        }
        (
            "algorithm",
            json!({ "assetType": "algorithm", "algorithmProperties": props }),
        )
    };

    let base = format!("crypto/{asset_type}/{}@{}", slug(alg), slug(prim));
    let mut bom_ref = base.clone();
    for n in 2.. {
        if refs.insert(bom_ref.clone()) {
            break;
        }
        bom_ref = format!("{base}-{n}");
    }

    let mut properties: Vec<Value> = Vec::new();
    for (name, value) in group.iter().flat_map(|(f, c)| {
        [
            ("capstan:quantum-class", c.quantum_class.as_str()),
            ("capstan:replacement", c.replacement.as_str()),
            ("capstan:rule", f.rule_id.as_str()),
        ]
    }) {
        let p = json!({ "name": name, "value": value });
        if !value.is_empty() && !properties.contains(&p) {
            properties.push(p);
        }
    }
    properties.sort_by_key(|p| p["name"].as_str().map(str::to_owned));

    let occurrences: Vec<Value> = group
        .iter()
        .map(|(f, _)| {
            json!({
                "location": relative_path(meta.shown(&f.path)),
                "line": f.line,
                "offset": f.column.saturating_sub(1),
                "additionalContext": f.rule_id,
            })
        })
        .collect();
    json!({
        "type": "cryptographic-asset",
        "bom-ref": bom_ref,
        "name": alg,
        "cryptoProperties": crypto,
        "evidence": { "occurrences": occurrences },
        "properties": properties,
    })
}

/// capstan's primitive as `CycloneDX`'s `algorithmProperties.primitive`.
fn primitive(alg: &str, prim: &str) -> &'static str {
    let stream = ["rc4", "arc4", "arcfour"]
        .iter()
        .any(|s| alg.eq_ignore_ascii_case(s));
    match prim {
        "key-exchange" => "key-agree",
        "cipher" if stream => "stream-cipher",
        "cipher" | "mode" => "block-cipher",
        "protocol" => "other",
        _ => PRIMITIVES
            .into_iter()
            .find(|p| *p == prim)
            .unwrap_or("unknown"),
    }
}

/// Lowercase, with anything but ASCII alphanumerics and `. _ -` turned into `-`.
fn slug(s: &str) -> String {
    s.chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '.' | '_' | '-') => c,
            _ => '-',
        })
        .collect()
}

/// A `urn:uuid:` from the first 16 bytes of a hash, as [`uuid`] makes it.
fn uuid_urn(hash: &[u8; 32]) -> String {
    format!("urn:uuid:{}", uuid(hash))
}

/// A UUID from the first 16 bytes of a hash, with the version (5) and RFC 4122 variant bits
/// set.
pub(super) fn uuid(hash: &[u8; 32]) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&hash[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut uuid = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            uuid.push('-');
        }
        let _ = write!(uuid, "{x:02x}");
    }
    uuid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_map_to_cyclonedx() {
        assert_eq!(primitive("RSA", "signature"), "signature");
        assert_eq!(primitive("ECDH", "key-exchange"), "key-agree");
        assert_eq!(primitive("DES", "cipher"), "block-cipher");
        assert_eq!(primitive("RC4", "cipher"), "stream-cipher");
        assert_eq!(primitive("ECB", "mode"), "block-cipher");
        assert_eq!(primitive("TLS1.0", "protocol"), "other");
        assert_eq!(primitive("HMAC-MD5", "mac"), "mac");
        assert_eq!(primitive("X", "weird"), "unknown");
    }

    #[test]
    fn serial_is_a_versioned_uuid() {
        let urn = uuid_urn(&[0xff; 32]);
        assert_eq!(urn, "urn:uuid:ffffffff-ffff-5fff-bfff-ffffffffffff");
        assert_eq!(slug("TLS1.0/1.1/SSL"), "tls1.0-1.1-ssl");
    }
}
