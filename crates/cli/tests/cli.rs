//! The binary as a user runs it: exit codes and the text on each stream.

use std::process::{Command, Output};

fn capstan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(args)
        .output()
        .expect("run the capstan binary")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn version_prints_the_package_version_and_exits_0() {
    let out = capstan(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout).trim(),
        format!("capstan {}", capstan::VERSION)
    );
}

#[test]
fn help_goes_to_stdout_and_states_the_exit_codes() {
    let out = capstan(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    assert!(help.contains("Usage: capstan"), "{help}");
    assert!(
        help.contains("Exit status: 0 clean, 1 findings, 2 usage or runtime error"),
        "{help}"
    );
}

#[test]
fn no_arguments_shows_help_on_stderr_and_exits_2() {
    let out = capstan(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(text(&out.stderr).contains("Usage: capstan"));
}

#[test]
fn an_unknown_argument_is_a_usage_error_naming_it() {
    let out = capstan(&["--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("--no-such-flag"), "{err}");
}
