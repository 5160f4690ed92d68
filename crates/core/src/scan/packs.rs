//! The built-in rule packs, embedded at build time from `crates/core/rules/*.toml`.

use super::config::{ConfigError, Repr};
use super::rule::RuleSet;

/// The built-in packs, by name.
pub const PACKS: [&str; 4] = ["secrets", "crypto", "threats", "dockerfile"];

const SOURCES: [(&str, &str); 4] = [
    ("secrets", include_str!("../../rules/secrets.toml")),
    ("crypto", include_str!("../../rules/crypto.toml")),
    ("threats", include_str!("../../rules/threats.toml")),
    ("dockerfile", include_str!("../../rules/dockerfile.toml")),
];

/// The same packs as JSON, converted by the build script: what [`RuleSet::builtin`] loads
/// (JSON parses several times faster than TOML, and every start loads the packs).
const COMPILED: [(&str, &str); 4] = [
    (
        "secrets",
        include_str!(concat!(env!("OUT_DIR"), "/secrets.json")),
    ),
    (
        "crypto",
        include_str!(concat!(env!("OUT_DIR"), "/crypto.json")),
    ),
    (
        "threats",
        include_str!(concat!(env!("OUT_DIR"), "/threats.json")),
    ),
    (
        "dockerfile",
        include_str!(concat!(env!("OUT_DIR"), "/dockerfile.json")),
    ),
];

/// Every pack's TOML, for `[extend] useDefault`.
pub(crate) fn all_packs_toml() -> impl Iterator<Item = &'static str> {
    SOURCES.iter().map(|(_, t)| *t)
}

impl RuleSet {
    /// The built-in packs named (any of [`PACKS`]), merged in the order given.
    pub fn builtin(names: &[&str]) -> Result<RuleSet, ConfigError> {
        let mut set = RuleSet::default();
        for name in names {
            let (_, json) = COMPILED
                .iter()
                .find(|(n, _)| n == name)
                .ok_or_else(|| ConfigError::new(Repr::UnknownPack((*name).to_owned())))?;
            set.append(super::config::builtin_pack(json)?);
        }
        Ok(set)
    }

    /// All built-in packs.
    pub fn builtin_all() -> Result<RuleSet, ConfigError> {
        RuleSet::builtin(&PACKS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::Rules;
    use crate::scan::regex::{Check, SMALL_NFA};

    /// What lets the packs load without parsing a pattern: each ships exactly as the full
    /// check would leave it (translated, parsed, small enough to build on first use, its
    /// secret group in range), and each builds. (The shipped form leaves out the examples,
    /// which the tests read from the TOML.)
    #[test]
    fn built_in_packs_load_without_parsing_exactly_as_checked() {
        for (name, text) in SOURCES {
            let mut checked = RuleSet::from_toml(text).expect(name);
            let fast = RuleSet::builtin(&[name]).expect(name);
            assert!(fast.rules.iter().all(|r| r.examples.is_empty()), "{name}");
            for r in &mut checked.rules {
                r.examples.clear();
                r.counterexamples.clear();
                r.example_path = None;
            }
            assert_eq!(fast, checked, "{name}: a pattern changes when translated");
            let patterns = checked.rules.iter().flat_map(|r| {
                r.regex.iter().chain(&r.path).chain(
                    r.allowlists
                        .iter()
                        .flat_map(|a| a.regexes.iter().chain(&a.paths)),
                )
            });
            for re in patterns {
                assert!(
                    matches!(
                        checked.checked.get(re),
                        Some(Check::Parsed { bound, .. }) if bound <= SMALL_NFA
                    ),
                    "{name}: {re} is not small enough to build lazily"
                );
                assert_eq!(fast.checked.get(re), Some(Check::Builtin), "{re}");
            }
            let (slow, quick) = (
                Rules::compile(&checked).expect(name),
                Rules::compile(&fast).expect(name),
            );
            for (a, b) in slow.rules.iter().zip(&quick.rules) {
                let (Some(a), Some(b)) = (&a.regex, &b.regex) else {
                    continue;
                };
                assert!(b.get().is_some(), "{name}: {} builds", b.groups());
                assert_eq!(a.groups(), b.groups(), "{name}: groups");
            }
            for allow in &quick.allows {
                for re in allow.regexes.iter().chain(&allow.paths) {
                    assert!(re.get().is_some(), "{name}: an allowlist builds: {re:?}");
                }
            }
        }
    }
}
