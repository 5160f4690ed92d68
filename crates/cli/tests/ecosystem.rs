//! Shell completions and man pages: generated from the command line, loaded by a real bash,
//! rendered by a real groff without a warning.

mod common;
use common::{capstan, text, tool};

/// `capstan ARGS`'s standard output; anything but a clean exit fails the test.
#[track_caller]
fn stdout_of(args: &[&str]) -> String {
    let out = capstan(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "capstan {args:?}: {}",
        text(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "capstan {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Every subcommand, as `capstan --help` lists them (the list is the binary's, not this
/// test's: a new command is covered without touching this file).
fn subcommands() -> Vec<String> {
    let help = stdout_of(&["--help"]);
    let commands = help
        .split_once("Commands:\n")
        .expect("a Commands: section in --help")
        .1;
    let names: Vec<String> = commands
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.starts_with("   ")) // a wrapped description
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect();
    for expected in ["scan", "image", "git", "completions", "man"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not in {names:?}"
        );
    }
    names
}

#[test]
fn completions_for_every_shell_name_the_commands() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = stdout_of(&["completions", shell]);
        assert!(script.len() > 1000, "{shell}: {script}");
        for command in ["scan", "image", "git", "man"] {
            assert!(
                script.contains(command),
                "{shell}: no {command} in:\n{script}"
            );
        }
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error_naming_the_shells() {
    let out = capstan(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = text(&out.stderr);
    assert!(
        err.contains("tcsh") && err.contains("bash, elvish, fish"),
        "{err}"
    );
}

#[test]
fn bash_loads_the_completions_and_completes_commands_and_man_pages() {
    // What a user's shell does: source the script, then complete `capstan sc<TAB>` and
    // `capstan man <TAB>` through the function it registered.
    let script = r#"
        set -e
        source <("$CAPSTAN" completions bash)
        complete -p capstan
        COMP_WORDS=(capstan sc) COMP_CWORD=1
        _capstan capstan sc capstan
        echo "sc: ${COMPREPLY[*]}"
        COMP_WORDS=(capstan man "") COMP_CWORD=2
        _capstan capstan "" man
        echo "man: ${COMPREPLY[*]}"
    "#;
    let out = tool("bash")
        .args(["--norc", "--noprofile", "-c", script])
        .env("CAPSTAN", env!("CARGO_BIN_EXE_capstan"))
        .output()
        .expect("bash runs");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some("complete -o bashdefault -o default -o nosort -F _capstan capstan"),
        "{stdout}"
    );
    assert!(lines.contains(&"sc: scan"), "{stdout}");
    let pages = lines
        .iter()
        .find_map(|l| l.strip_prefix("man: "))
        .expect("the man completions");
    for command in subcommands() {
        assert!(
            pages.split_whitespace().any(|p| p == command),
            "{command} not offered after `capstan man`: {pages}"
        );
    }
}

#[test]
fn every_man_page_renders_without_a_warning() {
    let mut pages = vec![None];
    pages.extend(subcommands().into_iter().map(Some));
    for command in pages {
        let mut args = vec!["man"];
        args.extend(command.as_deref());
        let roff = stdout_of(&args);
        let title = match &command {
            None => "capstan".to_owned(),
            Some(c) => format!("capstan-{c}"),
        };
        assert!(
            roff.contains(&format!(".TH {title} 1 ")),
            "{args:?}: no title {title}:\n{roff}"
        );
        assert!(roff.is_ascii(), "{args:?}: not ASCII (troff reads bytes)");
        // Formatted as `man` would, with every warning on: none may appear.
        let mut groff = tool("groff")
            .args(["-man", "-Tutf8", "-ww", "-z"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("groff runs");
        {
            use std::io::Write as _;
            let mut stdin = groff.stdin.take().expect("groff's stdin");
            stdin.write_all(roff.as_bytes()).expect("roff to groff");
        }
        let out = groff.wait_with_output().expect("groff finishes");
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{args:?}: groff: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn a_subcommand_page_has_its_options_examples_and_exit_status() {
    let roff = stdout_of(&["man", "scan"]);
    for section in [
        ".SH SYNOPSIS",
        ".SH OPTIONS",
        ".SH EXAMPLES",
        ".SH \"EXIT STATUS\"",
    ] {
        assert!(roff.contains(section), "no {section} in:\n{roff}");
    }
    assert!(roff.contains(r"\fBcapstan scan\fR"), "{roff}");
    assert!(roff.contains(r"\-\-no\-ignore"), "{roff}");
    // The examples keep their lines (no-fill), as in --help.
    assert!(roff.contains(".nf\n  capstan scan ."), "{roff}");
}

#[test]
fn man_of_an_unknown_command_is_a_usage_error_naming_the_commands() {
    let out = capstan(&["man", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = text(&out.stderr);
    assert!(err.contains("'nope'"), "{err}");
    for command in subcommands() {
        assert!(err.contains(&command), "{command} not named in: {err}");
    }
}
