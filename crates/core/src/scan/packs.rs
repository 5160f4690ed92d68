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

/// Every pack's TOML, for `[extend] useDefault`.
pub(crate) fn all_packs_toml() -> impl Iterator<Item = &'static str> {
    SOURCES.iter().map(|(_, t)| *t)
}

impl RuleSet {
    /// The built-in packs named (any of [`PACKS`]), merged in the order given.
    pub fn builtin(names: &[&str]) -> Result<RuleSet, ConfigError> {
        let mut set = RuleSet::default();
        for name in names {
            let (_, text) = SOURCES
                .iter()
                .find(|(n, _)| n == name)
                .ok_or_else(|| ConfigError::new(Repr::UnknownPack((*name).to_owned())))?;
            set.append(RuleSet::from_toml(text)?);
        }
        Ok(set)
    }

    /// All built-in packs.
    pub fn builtin_all() -> Result<RuleSet, ConfigError> {
        RuleSet::builtin(&PACKS)
    }
}
