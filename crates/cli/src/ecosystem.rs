//! Shell completions and man pages, generated from the command-line definition itself
//! (`clap_complete`, `clap_mangen`), so that they cannot drift from what the binary accepts.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::process::ExitCode;

use clap::CommandFactory;
use clap::builder::PossibleValuesParser;
use clap_complete::Shell;
use clap_mangen::roff::{Roff, roman};

use crate::Cli;

#[derive(Debug, clap::Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to write the completion script for.
    #[arg(value_enum)]
    shell: Shell,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ManArgs {
    /// The command whose page to print [default: the top level, `capstan`]
    #[arg(id = MAN_ARG, value_name = "COMMAND")]
    command: Option<String>,
}

/// The id of `capstan man`'s argument, whose possible values [`command`] fills in.
const MAN_ARG: &str = "command";

/// The whole command-line definition, as parsed and as documented: the derived one with the
/// possible values of `capstan man COMMAND` filled in from its own subcommands (a derive cannot
/// name them without building itself).
pub(crate) fn command() -> clap::Command {
    let cmd = Cli::command();
    let pages: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    cmd.mut_subcommand("man", |man| {
        man.mut_arg(MAN_ARG, |a| {
            a.value_parser(PossibleValuesParser::new(pages))
        })
    })
}

pub(crate) fn completions(args: &CompletionsArgs) -> anyhow::Result<ExitCode> {
    // Generated into memory and written once: the generators panic on a write error (a closed
    // pipe), and a broken pipe is success.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command(), "capstan", &mut script);
    emit(&script)
}

pub(crate) fn man(args: &ManArgs) -> anyhow::Result<ExitCode> {
    // Built so that subcommands carry their full names (`capstan-scan`, `capstan scan`); no
    // `help` subcommand: it has no page of its own.
    let mut cmd = command().disable_help_subcommand(true);
    cmd.build();
    let cmd = match &args.command {
        None => cmd,
        Some(name) => cmd
            .find_subcommand(name)
            .ok_or_else(|| anyhow::anyhow!("no such command: {name}"))?
            .clone(),
    };
    emit(page(cmd)?.as_bytes())
}

/// The man page of `cmd` (built): `clap_mangen`'s sections, then the after-help text as
/// EXAMPLES, EXIT STATUS and NOTES ([`after_help`]) rather than one filled EXTRA section that
/// would run the examples together. Pure ASCII ([`ascii_roff`]).
fn page(cmd: clap::Command) -> anyhow::Result<String> {
    let extra = cmd
        .get_after_long_help()
        .or_else(|| cmd.get_after_help())
        .map(ToString::to_string);
    let subcommands = cmd.has_subcommands();
    let man = clap_mangen::Man::new(cmd)
        .source(format!("capstan {}", capstan::VERSION))
        .manual("capstan");
    let mut roff = Vec::new();
    man.render_title(&mut roff)?;
    man.render_name_section(&mut roff)?;
    man.render_synopsis_section(&mut roff)?;
    man.render_description_section(&mut roff)?;
    man.render_options_section(&mut roff)?;
    if subcommands {
        man.render_subcommands_section(&mut roff)?;
    }
    if let Some(text) = extra {
        let mut sections = Roff::new();
        after_help(&text, &mut sections);
        sections.to_writer(&mut roff)?;
    }
    // Each part starts with the same preamble (a string definition for apostrophes): once is
    // enough.
    let roff = String::from_utf8(roff)?;
    let preamble = Roff::new().render();
    let body = roff.replace(&preamble, "");
    Ok(ascii_roff(&format!("{preamble}{body}")))
}

/// `text`, an after-help, as man page sections: a paragraph that starts `Examples:` (or
/// `Example:`) opens EXAMPLES, one that starts `Exit status:` is EXIT STATUS, any other
/// continues the section before it (NOTES if none). Indented lines (commands and what they
/// do) keep their lines and spacing; the rest is filled text.
fn after_help(text: &str, roff: &mut Roff) {
    let mut section = None;
    for paragraph in text.split("\n\n") {
        let mut lines = paragraph.lines();
        let first = lines.next().unwrap_or_default();
        let (heading, first) = [
            ("Examples:", "EXAMPLES"),
            ("Example:", "EXAMPLES"),
            ("Exit status:", "EXIT STATUS"),
        ]
        .iter()
        .find_map(|(label, heading)| Some((*heading, first.strip_prefix(label)?.trim())))
        .unwrap_or((section.unwrap_or("NOTES"), first));
        if section == Some(heading) {
            roff.control("PP", []);
        } else {
            roff.control("SH", [heading]);
            section = Some(heading);
        }
        let mut unfilled = false;
        for line in std::iter::once(first).chain(lines) {
            let indented = line.starts_with(' ');
            if indented != unfilled {
                roff.control(if indented { "nf" } else { "fi" }, []);
                unfilled = indented;
            }
            if !line.trim().is_empty() {
                roff.text([roman(if indented { line } else { line.trim() })]);
            }
        }
        if unfilled {
            roff.control("fi", []);
        }
    }
}

/// `roff` with every character outside ASCII written as groff's `\[uXXXX]` escape: troff reads
/// bytes, not UTF-8 (`man` runs preconv first, but `groff -man` and other formatters do not),
/// and the help text has dashes, ellipses and arrows.
fn ascii_roff(roff: &str) -> String {
    let mut out = String::with_capacity(roff.len());
    for c in roff.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            // (Writing to a String cannot fail.)
            let _ = write!(out, "\\[u{:04X}]", u32::from(c));
        }
    }
    out
}

fn emit(bytes: &[u8]) -> anyhow::Result<ExitCode> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn man_pages_escape_what_is_not_ascii_for_troff() {
        assert_eq!(
            super::ascii_roff("a \u{2014} b\u{2026} \u{1F512}"),
            "a \\[u2014] b\\[u2026] \\[u1F512]"
        );
    }
}
