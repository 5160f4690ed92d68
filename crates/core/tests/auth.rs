//! Credential resolution against config files and fake helper scripts in temp dirs.

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use capstan::auth::{AuthErrorKind, Credentials, ImageRef, Resolver, Secret, Source};

mod common;

struct Env(PathBuf);

impl Env {
    fn new(name: &str) -> Env {
        let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("auth-{name}"));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("bin")).expect("dirs");
        Env(d)
    }
    fn file(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("dirs");
        std::fs::write(&p, text).expect("write");
        p
    }
    /// A `docker-credential-NAME` script in this env's `bin`.
    fn helper(&self, name: &str, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        let p = self.file(
            &format!("bin/docker-credential-{name}"),
            &format!("#!/bin/sh\n{body}\n"),
        );
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    fn resolver(&self, files: &[&Path]) -> Resolver {
        Resolver {
            files: files.iter().map(|p| p.to_path_buf()).collect(),
            helper_timeout: Duration::from_millis(500),
            helper_path: Some(
                format!(
                    "{}:{}",
                    self.0.join("bin").display(),
                    std::env::var("PATH").unwrap_or_default()
                )
                .into(),
            ),
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn image(s: &str) -> ImageRef {
    s.parse().expect("reference")
}

fn basic(user: &str, pass: &str) -> Credentials {
    Credentials::Basic {
        username: user.to_owned(),
        password: Secret::new(pass),
    }
}

// base64("alice:s3cret") and base64("bob:hunter2")
const ALICE: &str = "YWxpY2U6czNjcmV0";
const BOB: &str = "Ym9iOmh1bnRlcjI=";

#[test]
fn auths_exact_normalized_and_docker_hub_keys() {
    let e = Env::new("auths");
    let cfg = e.file(
        "docker/config.json",
        &format!(
            r#"{{"auths": {{
                "https://index.docker.io/v1/": {{"auth": "{ALICE}"}},
                "https://registry.example.com/v1/": {{"auth": "{BOB}"}},
                "http://plain.example.com": {{"username": "carol", "password": "pw"}},
                "token.example.com": {{"identitytoken": "refresh-tok"}}
            }}}}"#
        ),
    );
    let r = e.resolver(&[&cfg]);
    let got = r.resolve(&image("alpine")).expect("resolves");
    assert_eq!(got.credentials, basic("alice", "s3cret"));
    assert_eq!(got.source, Source::File(cfg.clone()));
    assert_eq!(
        r.resolve(&image("registry.example.com/x"))
            .expect("resolves")
            .credentials,
        basic("bob", "hunter2")
    );
    assert_eq!(
        r.resolve(&image("plain.example.com/x"))
            .expect("resolves")
            .credentials,
        basic("carol", "pw")
    );
    let tok = r
        .resolve(&image("token.example.com/x"))
        .expect("resolves")
        .credentials;
    assert_eq!(tok, Credentials::IdentityToken(Secret::new("refresh-tok")));
    let none = r.resolve(&image("other.example.com/x")).expect("resolves");
    assert_eq!(
        (none.credentials, none.source),
        (Credentials::Anonymous, Source::None)
    );
}

#[test]
fn helpers_come_first_and_a_store_miss_is_anonymous() {
    let e = Env::new("helpers");
    e.helper("pass", r#"read server; printf '{"ServerURL":"%s","Username":"helper-user","Secret":"helper-pw"}' "$server""#);
    e.helper("tok", r#"read server; printf '{"ServerURL":"%s","Username":"<token>","Secret":"id-tok"}' "$server""#);
    e.helper(
        "store",
        "echo 'credentials not found in native keychain'; exit 1",
    );
    let cfg = e.file(
        "config.json",
        &format!(
            r#"{{"credHelpers": {{"ghcr.io": "pass", "quay.io": "tok"}}, "credsStore": "store",
                "auths": {{"ghcr.io": {{"auth": "{ALICE}"}}, "registry.example.com": {{"auth": "{BOB}"}}}}}}"#
        ),
    );
    let r = e.resolver(&[&cfg]);
    let got = r.resolve(&image("ghcr.io/org/app")).expect("resolves");
    assert_eq!(got.credentials, basic("helper-user", "helper-pw"));
    assert_eq!(got.source, Source::Helper("pass".into()));
    let got = r.resolve(&image("quay.io/org/app")).expect("resolves");
    assert_eq!(
        got.credentials,
        Credentials::IdentityToken(Secret::new("id-tok"))
    );
    // credsStore answers for everything else; its miss wins over the auths entry, as in docker.
    let got = r
        .resolve(&image("registry.example.com/x"))
        .expect("resolves");
    assert_eq!(
        (got.credentials, got.source),
        (Credentials::Anonymous, Source::Helper("store".into()))
    );
}

#[test]
fn helper_failures_are_errors_never_anonymous() {
    let e = Env::new("helper-fail");
    e.helper("broken", "echo 'keychain locked' >&2; exit 3");
    e.helper("slow", "sleep 5; echo '{}'");
    e.helper("garbage", "echo 'not json'");
    let cfg = e.file(
        "config.json",
        r#"{"credHelpers": {"a.io": "broken", "b.io": "slow", "c.io": "missing", "d.io": "garbage"}}"#,
    );
    let r = e.resolver(&[&cfg]);
    let err = r.resolve(&image("a.io/x")).expect_err("fails");
    assert_eq!(
        (err.kind(), err.helper()),
        (AuthErrorKind::Helper, Some("broken"))
    );
    assert!(err.to_string().contains("keychain locked"), "{err}");
    let started = std::time::Instant::now();
    let err = r.resolve(&image("b.io/x")).expect_err("times out");
    assert_eq!(
        (err.kind(), err.helper()),
        (AuthErrorKind::Timeout, Some("slow")),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "killed, not waited for"
    );
    assert!(
        err.to_string().contains("docker-credential-slow") && err.to_string().contains("500ms"),
        "names the helper and the limit: {err}"
    );
    let err = r.resolve(&image("c.io/x")).expect_err("missing");
    assert_eq!(
        (err.kind(), err.helper()),
        (AuthErrorKind::HelperMissing, Some("missing")),
        "{err}"
    );
    assert!(
        err.to_string().contains("docker-credential-missing"),
        "{err}"
    );
    let err = r.resolve(&image("d.io/x")).expect_err("garbage");
    assert!(err.to_string().contains("not credentials JSON"), "{err}");
}

#[test]
fn helpers_writing_a_lot_do_not_block() {
    let e = Env::new("helper-loud");
    // 4 MiB on stderr before the answer: both pipes are drained while the helper runs.
    e.helper(
        "chatty",
        r#"read server; head -c 4194304 /dev/zero >&2; printf '{"Username":"u","Secret":"s"}'"#,
    );
    // 4 MiB of junk on stdout: more than is kept, read and dropped, and judged as not JSON.
    e.helper(
        "flood",
        "read server; head -c 4194304 /dev/zero | tr '\\0' x",
    );
    let cfg = e.file(
        "config.json",
        r#"{"credHelpers": {"a.io": "chatty", "b.io": "flood"}}"#,
    );
    let mut r = e.resolver(&[&cfg]);
    r.helper_timeout = Duration::from_secs(20);
    let started = std::time::Instant::now();
    let got = r.resolve(&image("a.io/x")).expect("resolves");
    assert_eq!(got.credentials, basic("u", "s"));
    let err = r.resolve(&image("b.io/x")).expect_err("junk");
    assert!(err.to_string().contains("not credentials JSON"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "no stall on a full pipe: {:?}",
        started.elapsed()
    );
}

#[test]
fn podman_scoped_keys_most_specific_first_and_file_order() {
    let e = Env::new("podman");
    let podman = e.file(
        "containers/auth.json",
        &format!(r#"{{"auths": {{"quay.io": {{"auth": "{ALICE}"}}, "quay.io/team/app": {{"auth": "{BOB}"}}}}}}"#),
    );
    let docker = e.file(
        "docker/config.json",
        &format!(r#"{{"auths": {{"ghcr.io": {{"auth": "{BOB}"}}}}}}"#),
    );
    let r = e.resolver(&[&podman, &docker]);
    assert_eq!(
        r.resolve(&image("quay.io/team/app:1"))
            .expect("resolves")
            .credentials,
        basic("bob", "hunter2")
    );
    assert_eq!(
        r.resolve(&image("quay.io/team/other"))
            .expect("resolves")
            .credentials,
        basic("alice", "s3cret")
    );
    let got = r
        .resolve(&image("ghcr.io/x"))
        .expect("falls through to docker's file");
    assert_eq!(
        (got.credentials, got.source),
        (basic("bob", "hunter2"), Source::File(docker))
    );
}

#[test]
fn corrupt_files_are_errors_naming_the_file_without_secrets() {
    let e = Env::new("corrupt");
    let cfg = e.file(
        "config.json",
        r#"{"auths": {"x.io": {"auth": "c2VjcmV0LXZhbHVl"}}, "#,
    );
    let err = e
        .resolver(&[&cfg])
        .resolve(&image("x.io/a"))
        .expect_err("corrupt");
    assert_eq!(err.kind(), AuthErrorKind::Config, "{err}");
    assert_eq!(err.path(), Some(cfg.as_path()));
    assert!(err.to_string().contains("config.json"), "{err}");
    let bad = e.file(
        "bad.json",
        r#"{"auths": {"x.io": {"auth": "c2VjcmV0LXZhbHVl"}}}"#,
    ); // "secret-value", no ':'
    let err = e
        .resolver(&[&bad])
        .resolve(&image("x.io/a"))
        .expect_err("no colon");
    assert_eq!(err.kind(), AuthErrorKind::Config, "{err}");
    assert!(!err.to_string().contains("secret-value"), "{err}");
}

#[test]
fn headers_are_byte_exact_and_secrets_never_print() {
    let c = basic("user", "p?>>");
    assert_eq!(
        c.registry_auth_header("r.io:5000"),
        "eyJ1c2VybmFtZSI6InVzZXIiLCJwYXNzd29yZCI6InA_Pj4iLCJzZXJ2ZXJhZGRyZXNzIjoici5pbzo1MDAwIn0="
    );
    assert_eq!(
        Credentials::IdentityToken(Secret::new("tok")).registry_auth_header("ignored"),
        "eyJpZGVudGl0eXRva2VuIjoidG9rIn0="
    );
    assert_eq!(
        basic("alice", "s3cret").basic_authorization().as_deref(),
        Some("Basic YWxpY2U6czNjcmV0")
    );
    let shown = format!("{c:?} {}", Secret::new("p?>>"));
    assert!(!shown.contains("p?>>"), "{shown}");
    // The header value is zeroed on drop and redacted by Debug, yet still reads and prints as
    // the value (as the CLI and the C API use it).
    let header = c.registry_auth_header("r.io:5000");
    let shown = format!("{header:?} {:?}", c.basic_authorization());
    assert!(
        !shown.contains("eyJ") && !shown.contains("Basic "),
        "{shown}"
    );
    assert_eq!(str::len(&header), header.as_str().len());
    assert_eq!(format!("{header}"), header.as_str());
}

#[test]
fn a_hundred_concurrent_lookups_run_the_helper_once() {
    use capstan::auth::AuthCache;
    let e = Env::new("single-flight");
    let count = e.0.join("count");
    e.helper(
        "counted",
        &format!(
            r#"read server; echo x >> '{}'; sleep 0.3; printf '{{"Username":"u","Secret":"s"}}'"#,
            count.display()
        ),
    );
    let cfg = e.file("config.json", r#"{"credHelpers": {"ghcr.io": "counted"}}"#);
    let mut r = e.resolver(&[&cfg]);
    r.helper_timeout = Duration::from_secs(10);
    let cache = AuthCache::new(r);
    std::thread::scope(|s| {
        for i in 0..100 {
            let cache = &cache;
            s.spawn(move || {
                let img = image(&format!("ghcr.io/org/app{i}:1"));
                let got = cache.get(&img).expect("resolves");
                assert_eq!(got.credentials, basic("u", "s"));
            });
        }
    });
    let runs = std::fs::read_to_string(&count)
        .expect("the helper ran")
        .lines()
        .count();
    assert_eq!(runs, 1, "one helper run for one registry");
    // Later lookups are hits.
    cache.get(&image("ghcr.io/another")).expect("hit");
    assert_eq!(
        std::fs::read_to_string(&count)
            .expect("count")
            .lines()
            .count(),
        1
    );
}

#[test]
fn a_changed_config_file_invalidates_and_scoped_keys_get_their_own_entries() {
    use capstan::auth::AuthCache;
    let e = Env::new("invalidate");
    let cfg = e.file(
        "auth.json",
        &format!(r#"{{"auths": {{"quay.io": {{"auth": "{ALICE}"}}, "quay.io/team/app": {{"auth": "{BOB}"}}}}}}"#),
    );
    let cache = AuthCache::new(e.resolver(&[&cfg]));
    assert_eq!(
        cache
            .get(&image("quay.io/team/app:1"))
            .expect("ok")
            .credentials,
        basic("bob", "hunter2")
    );
    assert_eq!(
        cache
            .get(&image("quay.io/team/other"))
            .expect("ok")
            .credentials,
        basic("alice", "s3cret")
    );
    std::fs::write(
        &cfg,
        format!(r#"{{"auths": {{"quay.io": {{"auth": "{BOB}"}}}}}}"#),
    )
    .expect("edit");
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        cache
            .get(&image("quay.io/team/other"))
            .expect("ok")
            .credentials,
        basic("bob", "hunter2"),
        "the edit is seen"
    );
}

#[test]
fn one_helper_never_runs_twice_at_once() {
    let e = Env::new("one-at-a-time");
    // `mkdir` is atomic: a run that cannot make `inside` overlaps another run.
    e.helper(
        "desk",
        &format!(
            r#"read server
cd '{}'
mkdir inside 2>/dev/null || echo "$server" >> overlaps
echo "$server" >> runs
sleep 0.2
rmdir inside 2>/dev/null
printf '{{"Username":"u","Secret":"s"}}'"#,
            e.0.display()
        ),
    );
    // Two registries, one store: the per-registry single flight does not serialize them.
    let cfg = e.file("config.json", r#"{"credsStore": "desk"}"#);
    let mut r = e.resolver(&[&cfg]);
    r.helper_timeout = Duration::from_secs(10);
    std::thread::scope(|s| {
        for host in ["a.io", "b.io", "c.io"] {
            let r = &r;
            s.spawn(move || {
                for _ in 0..3 {
                    let got = r.resolve(&image(&format!("{host}/x"))).expect("resolves");
                    assert_eq!(got.credentials, basic("u", "s"));
                }
            });
        }
    });
    let runs = std::fs::read_to_string(e.0.join("runs")).expect("the helper ran");
    assert_eq!(runs.lines().count(), 9, "{runs}");
    let overlaps = std::fs::read_to_string(e.0.join("overlaps")).unwrap_or_default();
    assert!(
        overlaps.is_empty(),
        "docker-credential-desk ran twice at once for: {overlaps}"
    );
}

#[test]
fn different_helpers_still_run_side_by_side() {
    let e = Env::new("side-by-side");
    // Each waits (up to 5 s) for the other to have started: only together do both see it.
    for (me, other) in [("left", "right"), ("right", "left")] {
        e.helper(
            me,
            &format!(
                r#"read server
cd '{}'
touch {me}
i=0
while [ ! -e {other} ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
[ -e {other} ] && echo met >> met
printf '{{"Username":"u","Secret":"s"}}'"#,
                e.0.display()
            ),
        );
    }
    let cfg = e.file(
        "config.json",
        r#"{"credHelpers": {"a.io": "left", "b.io": "right"}}"#,
    );
    let mut r = e.resolver(&[&cfg]);
    r.helper_timeout = Duration::from_secs(10);
    std::thread::scope(|s| {
        for host in ["a.io", "b.io"] {
            let r = &r;
            s.spawn(move || r.resolve(&image(&format!("{host}/x"))).expect("resolves"));
        }
    });
    let met = std::fs::read_to_string(e.0.join("met")).unwrap_or_default();
    assert_eq!(
        met.lines().count(),
        2,
        "each saw the other running: {met:?}"
    );
}

#[test]
fn a_stopped_helper_is_an_error_not_a_crash() {
    let e = Env::new("stopped");
    e.helper("frozen", "read server; kill -STOP $$; echo '{}'");
    let cfg = e.file("config.json", r#"{"credHelpers": {"a.io": "frozen"}}"#);
    let mut r = e.resolver(&[&cfg]);
    r.helper_timeout = Duration::from_secs(10);
    let started = std::time::Instant::now();
    let err = r.resolve(&image("a.io/x")).expect_err("stopped");
    assert!(
        err.to_string().contains("docker-credential-frozen"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "not left to the timeout: {:?}",
        started.elapsed()
    );
}

/// Runs the test `name` of this binary in a process of its own (for what changes process-wide
/// signal state), with `CAPSTAN_AUTH_CHILD` set; fails unless it passes.
fn in_own_process(name: &str) {
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env("CAPSTAN_AUTH_CHILD", "1")
        .output()
        .expect("runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("1 passed"),
        "{name}: {:?}\n{text}",
        out.status
    );
}

fn in_child() -> bool {
    std::env::var_os("CAPSTAN_AUTH_CHILD").is_some()
}

/// SIGCHLD's action now.
fn sigchld_action() -> libc::sigaction {
    // SAFETY: an all-zero sigaction is a valid value to be filled in; a null new action only
    // reads the current one.
    unsafe {
        let mut a: libc::sigaction = std::mem::zeroed();
        assert_eq!(
            libc::sigaction(libc::SIGCHLD, std::ptr::null(), &raw mut a),
            0
        );
        a
    }
}

/// Sets SIGCHLD's disposition (only in a process of its own: it is process-wide).
fn set_sigchld(disposition: libc::sighandler_t) {
    assert!(in_child());
    // SAFETY: SIG_DFL and SIG_IGN are valid dispositions for SIGCHLD; this process runs only
    // the one test that calls this.
    let before = unsafe { libc::signal(libc::SIGCHLD, disposition) };
    assert_ne!(before, libc::SIG_ERR);
}

#[test]
fn running_helpers_installs_no_sigchld_handler() {
    in_own_process("child_helpers_leave_sigchld_alone");
}

#[test]
fn a_host_ignoring_sigchld_gets_an_error_not_a_crash() {
    in_own_process("child_helper_wait_with_sigchld_ignored");
}

#[test]
fn child_helpers_leave_sigchld_alone() {
    if !in_child() {
        return;
    }
    set_sigchld(libc::SIG_DFL);
    let e = Env::new("sigchld-default");
    e.helper(
        "ok",
        r#"read server; printf '{"Username":"u","Secret":"s"}'"#,
    );
    e.helper("slow", "sleep 5; echo '{}'");
    let cfg = e.file(
        "config.json",
        r#"{"credHelpers": {"a.io": "ok", "b.io": "slow", "c.io": "missing"}}"#,
    );
    let r = e.resolver(&[&cfg]);
    for _ in 0..3 {
        let got = r.resolve(&image("a.io/x")).expect("resolves");
        assert_eq!(got.credentials, basic("u", "s"));
    }
    let err = r.resolve(&image("b.io/x")).expect_err("times out");
    assert_eq!(err.kind(), AuthErrorKind::Timeout, "{err}");
    let err = r.resolve(&image("c.io/x")).expect_err("missing");
    assert_eq!(err.kind(), AuthErrorKind::HelperMissing, "{err}");
    // No handler was installed (wait-timeout's would be here now, and a Go host that loads
    // libcapstan dies of one without SA_ONSTACK): SIGCHLD is as the process had it.
    let a = sigchld_action();
    assert_eq!(a.sa_sigaction, libc::SIG_DFL, "flags {:#x}", a.sa_flags);
}

#[test]
fn child_helper_wait_with_sigchld_ignored() {
    if !in_child() {
        return;
    }
    // With SIGCHLD ignored the kernel reaps the helper itself, so its exit status is lost.
    set_sigchld(libc::SIG_IGN);
    let e = Env::new("sigchld-ignored");
    e.helper(
        "ok",
        r#"read server; printf '{"Username":"u","Secret":"s"}'"#,
    );
    let cfg = e.file("config.json", r#"{"credHelpers": {"a.io": "ok"}}"#);
    let err = e
        .resolver(&[&cfg])
        .resolve(&image("a.io/x"))
        .expect_err("no exit status can be read");
    assert_eq!(
        (err.kind(), err.helper()),
        (AuthErrorKind::Helper, Some("ok")),
        "{err}"
    );
    assert!(
        std::error::Error::source(&err).is_some_and(<dyn std::error::Error>::is::<std::io::Error>),
        "the wait's error is kept: {err:?}"
    );
    #[cfg(any(target_os = "linux", target_os = "android"))]
    assert!(err.to_string().contains("SIGCHLD ignored"), "{err}");
    // The host's choice is left as it was.
    assert_eq!(sigchld_action().sa_sigaction, libc::SIG_IGN);
}
