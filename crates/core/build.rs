//! Converts the built-in rule packs from TOML, the form people read and edit, to JSON in
//! `OUT_DIR`: the same data loads several times faster, and a one-file scan loads all four
//! packs on every start (`scan::packs`; a test checks both forms load to the same rules). The
//! rules' `examples`, `counterexamples` and `example_path` stay in the TOML, where the tests read
//! them: they are half the packs' text and no scan needs them.

use std::error::Error;
use std::path::PathBuf;

const PACKS: [&str; 4] = ["secrets", "crypto", "threats", "dockerfile"];

fn main() -> Result<(), Box<dyn Error>> {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    for name in PACKS {
        let src = PathBuf::from("rules").join(format!("{name}.toml"));
        println!("cargo::rerun-if-changed={}", src.display());
        let text = std::fs::read_to_string(&src).map_err(|e| format!("{}: {e}", src.display()))?;
        let mut value: toml::Value =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", src.display()))?;
        if let Some(rules) = value.get_mut("rules").and_then(toml::Value::as_array_mut) {
            for rule in rules.iter_mut().filter_map(toml::Value::as_table_mut) {
                for key in ["examples", "counterexamples", "example_path"] {
                    rule.remove(key);
                }
            }
        }
        std::fs::write(
            out.join(format!("{name}.json")),
            serde_json::to_string(&value)?,
        )?;
    }
    Ok(())
}
