//! The shared scan cache (`--cache-url`) against a real `redis-server` on a loopback port (or
//! a unix socket), one per test: a second runner with an empty local cache, elsewhere, is
//! answered by Redis for a tree, a git history and images (a base layer shared by two images is
//! answered for each as its own); entries answer only the rules and settings they were found
//! under, and hold redacted secrets only; a server that is not there, refuses the password,
//! stops answering, dies or stalls mid-scan, refuses writes, or holds damaged values never
//! changes a report and says so in one warning; entries expire after `--cache-ttl`; eight
//! processes share one `--cache-dir`; the counters reach `--metrics-file`; and how the URL is
//! given (flag, environment, `--no-cache`, typos).
//!
//! Every report is compared with the same scan run with `--no-cache`: findings, skipped and
//! errors identical, and the same exit status.

mod common;

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use capstan::scan::Checksum;
use common::oci::{Compression, Image, Layer, write_layout};
use common::{Redis, Scratch, free_port, git, isolate, text, tool, wait};
use serde_json::Value;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// What AWS access key ids are made of after their `AKIA`.
const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// A fixed-seed generator (xorshift64*): the same fake secrets on every run.
struct Rng(u64);

impl Rng {
    fn word(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| {
                self.0 ^= self.0 >> 12;
                self.0 ^= self.0 << 25;
                self.0 ^= self.0 >> 27;
                let r = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33;
                let i = usize::try_from(r).expect("33 bits fit") % alphabet.len();
                char::from(alphabet[i])
            })
            .collect()
    }

    /// A GitHub classic token the built-in `github-classic-pat` rule finds: 30 random
    /// characters and their checksum.
    fn github(&mut self) -> String {
        let token = Checksum::GithubCrc32.with_checksum(&format!("ghp_{}", self.word(ALNUM, 30)));
        format!("GITHUB_TOKEN={token}\n")
    }

    /// An AWS key pair the `aws-access-key-id` and `aws-secret-access-key` rules find.
    fn aws(&mut self) -> String {
        format!(
            "aws_access_key_id = AKIA{}\naws_secret_access_key = {}\n",
            self.word(BASE32, 16),
            self.word(BASE64, 40)
        )
    }
}

/// Files in [`tree`], and the findings a scan of it has.
const TREE_FILES: u64 = 319;
const TREE_FINDINGS: usize = 26;

/// Writes `tree/` in `dir`: 300 small text files in ten directories, plus a GitHub token in
/// every 25th's directory and an AWS key pair in every 40th's (each secret different):
/// [`TREE_FILES`] files, [`TREE_FINDINGS`] findings. The same tree every time; the lines with
/// the secrets are returned.
fn tree(dir: &Scratch) -> Vec<String> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut secrets = Vec::new();
    for i in 1..=300u32 {
        let d = format!("tree/d{}", i % 10);
        dir.write(
            &format!("{d}/f{i}.txt"),
            &format!("plain text file {i}\nnothing to see here\n"),
        );
        if i % 25 == 0 {
            secrets.push(rng.github());
            dir.write(&format!("{d}/token{i}.env"), &secrets[secrets.len() - 1]);
        }
        if i % 40 == 0 {
            secrets.push(rng.aws());
            dir.write(&format!("{d}/aws{i}.ini"), &secrets[secrets.len() - 1]);
        }
    }
    secrets
        .iter()
        .flat_map(|s| s.lines())
        .map(str::to_owned)
        .collect()
}

/// `capstan ARGS`, from `dir`.
fn capstan_command(dir: &Scratch, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_capstan"));
    isolate(&mut cmd, dir);
    cmd.args(args);
    cmd
}

fn capstan(dir: &Scratch, args: &[&str]) -> Output {
    capstan_command(dir, args).output().expect("capstan runs")
}

/// A `--format json` run: its exit status, report and standard error.
struct Run {
    code: Option<i32>,
    report: Value,
    stderr: String,
}

impl Run {
    fn of(out: &Output) -> Run {
        let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "not a JSON report ({e}): {}\nstderr: {}",
                text(&out.stdout),
                text(&out.stderr)
            )
        });
        Run {
            code: out.status.code(),
            report,
            stderr: text(&out.stderr),
        }
    }

    /// A counter of the report's stats (the shared level's are left out when 0).
    fn stat(&self, name: &str) -> u64 {
        self.report["stats"][name].as_u64().unwrap_or(0)
    }

    fn findings(&self) -> usize {
        self.report["findings"].as_array().map_or(0, Vec::len)
    }

    /// What the cache must never change: findings, skipped and errors.
    fn results(&self) -> [&Value; 3] {
        ["findings", "skipped", "errors"].map(|k| &self.report[k])
    }

    /// Standard error's warning lines.
    fn warnings(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.contains("warning"))
            .collect()
    }

    fn no_warning(&self, what: &str) {
        assert!(self.warnings().is_empty(), "{what}: {}", self.stderr);
    }

    /// The one warning the run printed, the shared cache's, naming `url`.
    fn one_shared_warning(&self, url: &str) -> &str {
        let warnings = self.warnings();
        assert_eq!(warnings.len(), 1, "one warning: {}", self.stderr);
        let w = warnings[0];
        assert!(
            w.starts_with(&format!("capstan: warning: shared cache {url}: "))
                && w.ends_with("; scanning on without it"),
            "{w}"
        );
        w
    }
}

/// The `--cache-timeout` a run with `args` gets: 10 s when they name a shared cache and no
/// timeout, not the default 200 ms. These tests are about what the cache answers, and a debug
/// build on a loaded machine (a CI run beside them) can take longer than 200 ms to hear it; the
/// tests about timeouts state theirs.
fn patient(args: &[&str]) -> &'static [&'static str] {
    if args.contains(&"--cache-url") && !args.contains(&"--cache-timeout") {
        &["--cache-timeout", "10s"]
    } else {
        &[]
    }
}

/// `capstan scan -f json tree` with `args` (and [`patient`]'s timeout).
fn scan(dir: &Scratch, args: &[&str]) -> Run {
    let mut all = vec!["scan", "-f", "json", "--no-progress"];
    all.extend(args);
    all.extend(patient(args));
    all.push("tree");
    Run::of(&capstan(dir, &all))
}

/// `got` reports what `want` (a `--no-cache` run) does, with the same exit status.
fn assert_same(got: &Run, want: &Run, what: &str) {
    assert_eq!(got.code, want.code, "{what}: exit status; {}", got.stderr);
    assert!(
        got.results() == want.results(),
        "{what}: findings, skipped or errors differ from the --no-cache scan's\n{:#}\n{}",
        got.report,
        got.stderr
    );
}

/// Every lookup of a run with an empty local cache went to the shared level and was counted
/// once there: a hit, a miss or a fallback.
fn assert_accounted(run: &Run, lookups: u64) {
    let shared = [
        "cache_shared_hits",
        "cache_shared_misses",
        "cache_shared_fallbacks",
    ];
    assert_eq!(
        shared.map(|k| run.stat(k)).iter().sum::<u64>(),
        lookups,
        "{:#}",
        run.report["stats"]
    );
    assert_eq!(
        run.stat("cache_hits") + run.stat("cache_misses"),
        lookups,
        "{:#}",
        run.report["stats"]
    );
}

/// The keys capstan wrote, as `redis-cli --scan` lists them.
fn keys(redis: &Redis) -> Vec<String> {
    let mut keys: Vec<String> = redis
        .cli(&["--scan", "--pattern", "capstan:*"])
        .lines()
        .map(str::to_owned)
        .collect();
    keys.sort();
    keys
}

fn dbsize(redis: &Redis) -> u64 {
    redis
        .cli(&["DBSIZE"])
        .trim()
        .parse()
        .expect("DBSIZE answers a number")
}

#[test]
fn a_second_runner_with_an_empty_local_cache_is_answered_by_redis() {
    // Two runners: the same tree checked out in two directories, each with its own cache.
    let one = Scratch::new("shared-tree-1");
    let secrets = tree(&one);
    let two = Scratch::new("shared-tree-2");
    tree(&two);
    let redis = Redis::start();
    let url = redis.url();
    let fresh = scan(&one, &["--no-cache"]);
    assert_eq!(fresh.code, Some(1), "{}", fresh.stderr);
    assert_eq!(fresh.findings(), TREE_FINDINGS, "{:#}", fresh.report);
    assert_eq!(fresh.stat("files"), TREE_FILES);

    let first = scan(&one, &["--cache-dir", "cache", "--cache-url", &url]);
    assert_same(&first, &fresh, "runner 1");
    first.no_warning("runner 1");
    assert_eq!(first.stat("cache_misses"), TREE_FILES);
    assert_eq!(first.stat("cache_shared_misses"), TREE_FILES);
    assert_eq!(first.stat("cache_shared_hits"), 0);
    let keys = keys(&redis);
    assert_eq!(keys.len() as u64, TREE_FILES, "one entry a file: {keys:?}");
    assert!(
        keys.iter().all(|k| k.starts_with("capstan:v3:")
            && k.split(':').nth(3) == Some("file")
            && k.contains(":tree/d")),
        "{keys:?}"
    );
    // What Redis holds is what a report shows: redacted secrets.
    let values = redis.cli_script(
        &keys
            .iter()
            .fold(String::new(), |script, k| script + "GET " + k + "\n"),
    );
    assert!(values.contains("ghp_"), "{values}");
    for line in &secrets {
        let secret = line.rsplit([' ', '=']).next().expect("a secret");
        assert!(!values.contains(secret), "{secret} is in Redis");
    }

    let second = scan(&two, &["--cache-dir", "cache", "--cache-url", &url]);
    assert_same(&second, &fresh, "runner 2");
    second.no_warning("runner 2");
    assert_eq!(
        second.stat("cache_misses"),
        0,
        "{:#}",
        second.report["stats"]
    );
    assert_eq!(second.stat("cache_hits"), TREE_FILES);
    assert_eq!(second.stat("cache_shared_hits"), TREE_FILES);
    assert_eq!(second.stat("cache_local_hits"), 0);
    assert_eq!(second.stat("files"), TREE_FILES);
    // What Redis answered was kept in runner 2's own store: without Redis, it answers.
    let alone = scan(&two, &["--cache-dir", "cache"]);
    assert_same(&alone, &fresh, "runner 2 without Redis");
    assert_eq!(alone.stat("cache_local_hits"), TREE_FILES);

    // Runner 1 again: its own store answers first; Redis is not asked.
    let again = scan(&one, &["--cache-dir", "cache", "--cache-url", &url]);
    assert_same(&again, &fresh, "runner 1 again");
    assert_eq!(again.stat("cache_local_hits"), TREE_FILES);
    assert_eq!(again.stat("cache_shared_hits"), 0);
    assert_eq!(again.stat("cache_shared_misses"), 0);
}

#[test]
fn entries_answer_only_the_rules_and_settings_they_were_found_under() {
    let dir = Scratch::new("shared-settings");
    tree(&dir);
    let redis = Redis::start();
    let url = redis.url();
    let first = scan(&dir, &["--cache-dir", "cache-a", "--cache-url", &url]);
    assert_eq!(first.stat("cache_shared_misses"), TREE_FILES);
    // Another rule set, another size limit: their own keys, never the others' entries.
    for (n, args) in [["--rules", "secrets"], ["--max-file-size", "1M"]]
        .iter()
        .enumerate()
    {
        let fresh = scan(&dir, &[&["--no-cache"], &args[..]].concat());
        let cache = format!("cache-{n}");
        let run = scan(
            &dir,
            &[&["--cache-dir", &cache, "--cache-url", &url], &args[..]].concat(),
        );
        assert_same(&run, &fresh, &args.join(" "));
        run.no_warning(&args.join(" "));
        assert_eq!(run.stat("cache_shared_hits"), 0, "{args:?}");
        assert_eq!(run.stat("cache_shared_misses"), TREE_FILES, "{args:?}");
        assert_eq!(dbsize(&redis), TREE_FILES * (n as u64 + 2), "{args:?}");
    }
    let prefixes: std::collections::BTreeSet<String> = keys(&redis)
        .iter()
        .map(|k| k.split(':').take(3).collect::<Vec<_>>().join(":"))
        .collect();
    assert_eq!(prefixes.len(), 3, "{prefixes:?}");
    // An unredacted scan never touches the cache, Redis included.
    let plain = scan(
        &dir,
        &[
            "--no-redact",
            "--cache-dir",
            "cache-plain",
            "--cache-url",
            &url,
        ],
    );
    plain.no_warning("--no-redact");
    assert_eq!(plain.findings(), TREE_FINDINGS);
    assert_eq!(plain.stat("cache_misses"), 0);
    assert_eq!(dbsize(&redis), TREE_FILES * 3);
}

#[test]
fn git_blobs_are_shared_between_runners() {
    let dir = Scratch::new("shared-git");
    dir.write(
        "home/.gitconfig",
        "[user]\n\tname = Capstan Test\n\temail = test@example.com\n\
         [commit]\n\tgpgSign = false\n[gc]\n\tauto = 0\n[core]\n\tautocrlf = false\n",
    );
    let repo = dir.path("repo");
    let root = dir.0.clone();
    git(
        &dir,
        &root,
        1_800_000_000,
        &["init", "-q", "-b", "main", "repo"],
    );
    let mut rng = Rng(7);
    let commits: [Vec<(String, String)>; 3] = [
        (0..20)
            .map(|i| (format!("src/m{i}.rs"), format!("fn m{i}() {{}}\n")))
            .chain([("config/.env".to_owned(), rng.github())])
            .collect(),
        vec![
            ("config/.env".to_owned(), rng.github()),
            ("deploy/aws.ini".to_owned(), rng.aws()),
            ("src/m3.rs".to_owned(), "fn m3() { changed() }\n".to_owned()),
        ],
        vec![(
            "deploy/aws.ini".to_owned(),
            "# moved to the vault\n".to_owned(),
        )],
    ];
    for (n, files) in (0i64..).zip(&commits) {
        for (path, content) in files {
            let p = repo.join(path);
            std::fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir");
            std::fs::write(p, content).expect("write");
        }
        let when = 1_800_000_000 + 60 * (n + 1);
        git(&dir, &repo, when, &["add", "-A"]);
        git(
            &dir,
            &repo,
            when,
            &["commit", "-q", "-m", &format!("commit {n}")],
        );
    }
    let redis = Redis::start();
    let url = redis.url();
    let run = |repo: &str, args: &[&str]| {
        let mut all = vec!["git", "-f", "json", "--no-progress"];
        all.extend(args);
        all.extend(patient(args));
        all.push(repo);
        Run::of(&capstan(&dir, &all))
    };
    let fresh = run("repo", &["--no-cache"]);
    assert_eq!(fresh.code, Some(1), "{}", fresh.stderr);
    assert_eq!(fresh.findings(), 4, "{:#}", fresh.report);

    let first = run("repo", &["--cache-dir", "cache-a", "--cache-url", &url]);
    assert_same(&first, &fresh, "runner 1");
    first.no_warning("runner 1");
    let blobs = first.stat("cache_misses");
    // 20 sources, 3 versions of .env… each (blob, path) once: 20 + 1 + 1 + 1 + 1 + 1.
    assert_eq!(blobs, 25, "{:#}", first.report["stats"]);
    assert_eq!(first.stat("cache_shared_misses"), blobs);
    let keys = keys(&redis);
    assert_eq!(keys.len() as u64, blobs, "{keys:?}");
    assert!(
        keys.iter().all(|k| k.split(':').nth(3) == Some("blob")),
        "{keys:?}"
    );

    // Runner 2 has a clone of its own: the same blobs, at another place.
    git(
        &dir,
        &root,
        1_800_001_000,
        &["clone", "-q", "repo", "clone"],
    );
    let second = run("clone", &["--cache-dir", "cache-b", "--cache-url", &url]);
    assert_same(&second, &fresh, "runner 2");
    second.no_warning("runner 2");
    assert_eq!(
        second.stat("cache_misses"),
        0,
        "{:#}",
        second.report["stats"]
    );
    assert_eq!(second.stat("cache_shared_hits"), blobs);
    assert_eq!(second.stat("commits"), 3);
}

#[test]
fn image_layers_are_shared_between_runners() {
    let dir = Scratch::new("shared-image");
    let mut rng = Rng(11);
    let (t1, t2, aws) = (rng.github(), rng.github(), rng.aws());
    let image = Image::new(vec![
        Layer::new(
            Compression::Gzip,
            &[
                ("etc/app/.env", t1.as_bytes()),
                ("bin/tool", b"\x7fELF\0\0"),
            ],
        ),
        Layer::new(
            Compression::Zstd,
            &[("root/.aws/credentials", aws.as_bytes())],
        ),
        Layer::new(Compression::Plain, &[("etc/app/.wh..env", b"")]),
        Layer::new(Compression::Gzip, &[("srv/new.env", t2.as_bytes())]),
    ]);
    write_layout(&dir.path("layout"), &[("v1", vec![image.clone()])]);
    // Runner 2 has the same image in a directory of its own.
    let other = Scratch::new("shared-image-2");
    write_layout(&other.path("layout"), &[("v1", vec![image])]);
    let redis = Redis::start();
    let url = redis.url();
    let run = |dir: &Scratch, args: &[&str]| {
        let mut all = vec!["image", "-f", "json", "--no-progress"];
        all.extend(args);
        all.extend(patient(args));
        all.push("oci:layout:v1");
        Run::of(&capstan(dir, &all))
    };
    let fresh = run(&dir, &["--no-cache"]);
    assert_eq!(fresh.code, Some(1), "{}", fresh.stderr);
    assert_eq!(fresh.findings(), 4, "{:#}", fresh.report);
    assert_eq!(fresh.stat("layers_pulled"), 4);

    let first = run(&dir, &["--cache-dir", "cache", "--cache-url", &url]);
    assert_same(&first, &fresh, "runner 1");
    first.no_warning("runner 1");
    assert_eq!(first.stat("layers_pulled"), 4);
    assert_eq!(first.stat("cache_shared_misses"), 4);
    let keys = keys(&redis);
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert!(
        keys.iter()
            .all(|k| k.split(':').nth(3) == Some("layer") && k.contains(":layer:sha256:")),
        "{keys:?}"
    );

    let second = run(&other, &["--cache-dir", "cache", "--cache-url", &url]);
    assert_same(&second, &fresh, "runner 2");
    second.no_warning("runner 2");
    assert_eq!(
        second.stat("layers_cached"),
        4,
        "{:#}",
        second.report["stats"]
    );
    assert_eq!(second.stat("layers_pulled"), 0);
    assert_eq!(second.stat("cache_shared_hits"), 4);
    assert_eq!(second.stat("cache_misses"), 0);
}

#[test]
fn a_layer_two_images_share_is_answered_for_each_as_its_own() {
    // A base layer at index 0 of image `a` and at index 1 of image `b`, where a layer above it
    // deletes its secret: runner 2 scans `b` after runner 1 scanned only `a`.
    let dir = Scratch::new("shared-image-base");
    let mut rng = Rng(13);
    let (t1, t2, aws) = (rng.github(), rng.github(), rng.aws());
    let base = Layer::new(
        Compression::Gzip,
        &[
            ("etc/app/.env", t1.as_bytes()),
            ("etc/os-release", b"ID=test\n"),
        ],
    );
    let a = Image::new(vec![
        base.clone(),
        Layer::new(Compression::Gzip, &[("srv/aws.ini", aws.as_bytes())]),
    ]);
    let b = Image::new(vec![
        Layer::new(Compression::Zstd, &[("opt/b.env", t2.as_bytes())]),
        base,
        Layer::new(Compression::Plain, &[("etc/app/.wh..env", b"")]),
    ]);
    write_layout(&dir.path("layout"), &[("a", vec![a]), ("b", vec![b])]);
    let redis = Redis::start();
    let url = redis.url();
    let run = |image: &str, args: &[&str]| {
        let mut all = vec!["image", "-f", "json", "--no-progress"];
        all.extend(args);
        all.extend(patient(args));
        all.push(image);
        Run::of(&capstan(&dir, &all))
    };
    let first = run(
        "oci:layout:a",
        &["--cache-dir", "cache-a", "--cache-url", &url],
    );
    assert_same(
        &first,
        &run("oci:layout:a", &["--no-cache"]),
        "runner 1, image a",
    );
    assert_eq!(dbsize(&redis), 2);
    let fresh = run("oci:layout:b", &["--no-cache"]);
    assert_eq!(fresh.findings(), 2, "{:#}", fresh.report);
    let second = run(
        "oci:layout:b",
        &["--cache-dir", "cache-b", "--cache-url", &url],
    );
    assert_same(&second, &fresh, "runner 2, image b");
    second.no_warning("runner 2");
    assert_eq!(
        second.stat("layers_cached"),
        1,
        "{:#}",
        second.report["stats"]
    );
    assert_eq!(second.stat("layers_pulled"), 2);
    let base_finding = &second.report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["path"] == "etc/app/.env")
        .expect("the base layer's finding");
    assert_eq!(base_finding["layer"]["index"], 1, "{base_finding:#}");
    assert_eq!(base_finding["removed_in_layer"], 2, "{base_finding:#}");
    assert_eq!(base_finding["image"], "oci:layout:b", "{base_finding:#}");
}

#[test]
fn nothing_listening_is_one_warning_and_the_same_report() {
    let dir = Scratch::new("shared-down");
    tree(&dir);
    let fresh = scan(&dir, &["--no-cache"]);
    let url = format!("redis://127.0.0.1:{}", free_port());
    let run = scan(&dir, &["--cache-dir", "cache", "--cache-url", &url]);
    assert_same(&run, &fresh, "no server");
    let w = run.one_shared_warning(&url);
    assert!(w.contains("cannot connect"), "{w}");
    assert_eq!(run.stat("cache_shared_fallbacks"), TREE_FILES);
    assert_accounted(&run, TREE_FILES);
    // The local level still works: a second run is answered by it, warning again.
    let again = scan(&dir, &["--cache-dir", "cache", "--cache-url", &url]);
    assert_same(&again, &fresh, "no server, again");
    again.one_shared_warning(&url);
    assert_eq!(again.stat("cache_local_hits"), TREE_FILES);
}

#[test]
fn a_wrong_password_is_one_warning_that_does_not_show_it() {
    let dir = Scratch::new("shared-auth");
    tree(&dir);
    let redis = Redis::start_with(&["--requirepass", "the-right-one-7Qx"]);
    let fresh = scan(&dir, &["--no-cache"]);
    let port = redis.port();
    // No password, a wrong one, a wrong one for the user by name.
    for (n, user) in ["", ":", "default:"].into_iter().enumerate() {
        let password = if user.is_empty() {
            ""
        } else {
            "wr0ng-pa55-9Zk@"
        };
        let url = format!("redis://{user}{password}127.0.0.1:{port}/0");
        let cache = format!("cache-{n}");
        let run = scan(&dir, &["--cache-dir", &cache, "--cache-url", &url]);
        assert_same(&run, &fresh, &url);
        let shown = if user.is_empty() { "" } else { "***@" };
        run.one_shared_warning(&format!("redis://{user}{shown}127.0.0.1:{port}/0"));
        assert!(
            !run.stderr.contains("wr0ng") && !run.report.to_string().contains("wr0ng"),
            "the password shows: {}",
            run.stderr
        );
        assert_eq!(run.stat("cache_shared_fallbacks"), TREE_FILES);
        assert_accounted(&run, TREE_FILES);
    }
    assert_eq!(dbsize(&redis), 0, "nothing written without the password");
    // The right password: no warning, and the entries are written.
    let url = format!("redis://:the-right-one-7Qx@127.0.0.1:{port}/0");
    let run = scan(&dir, &["--cache-dir", "cache-right", "--cache-url", &url]);
    assert_same(&run, &fresh, "right password");
    run.no_warning("right password");
    assert_eq!(run.stat("cache_shared_misses"), TREE_FILES);
    assert_eq!(dbsize(&redis), TREE_FILES);
}

#[test]
fn the_shared_cache_over_a_unix_socket() {
    let dir = Scratch::new("shared-unix");
    tree(&dir);
    let socket = dir.path("redis.sock");
    let socket_arg = socket.to_string_lossy().into_owned();
    let redis = Redis::start_with(&[
        "--unixsocket",
        &socket_arg,
        "--unixsocketperm",
        "700",
        "--requirepass",
        "the-right-one-7Qx",
    ]);
    let fresh = scan(&dir, &["--no-cache"]);
    let url = format!("redis+unix://{}?pass=the-right-one-7Qx", socket.display());
    let first = scan(&dir, &["--cache-dir", "cache-a", "--cache-url", &url]);
    assert_same(&first, &fresh, "runner 1");
    first.no_warning("runner 1");
    assert_eq!(first.stat("cache_shared_misses"), TREE_FILES);
    assert_eq!(dbsize(&redis), TREE_FILES);
    let second = scan(&dir, &["--cache-dir", "cache-b", "--cache-url", &url]);
    assert_same(&second, &fresh, "runner 2");
    assert_eq!(second.stat("cache_shared_hits"), TREE_FILES);
}

#[test]
fn a_password_in_a_unix_socket_url_never_shows() {
    let dir = Scratch::new("shared-unix-pass");
    tree(&dir);
    let socket = dir.path("redis.sock");
    let socket_arg = socket.to_string_lossy().into_owned();
    let _redis = Redis::start_with(&[
        "--unixsocket",
        &socket_arg,
        "--requirepass",
        "the-right-one-7Qx",
    ]);
    let fresh = scan(&dir, &["--no-cache"]);
    for url in [
        format!("redis+unix://{}?pass=wr0ng-pa55-9Zk", socket.display()),
        format!(
            "unix://{}?user=default&pass=wr0ng-pa55-9Zk",
            socket.display()
        ),
        format!(
            "redis+unix://{}?pass=wr0ng-pa55-9Zk",
            dir.path("nobody-here.sock").display()
        ),
    ] {
        let run = scan(&dir, &["--cache-dir", "cache", "--cache-url", &url]);
        assert_same(&run, &fresh, &url);
        assert_eq!(run.warnings().len(), 1, "{}", run.stderr);
        assert!(
            !run.stderr.contains("wr0ng"),
            "the password shows: {}",
            run.stderr
        );
    }
}

#[test]
fn a_password_never_shows_in_the_usage_error() {
    let dir = Scratch::new("shared-url-typo");
    tree(&dir);
    for url in [
        "redis://:s3c#r3t-9Zk@127.0.0.1:1/0",
        "redis://:s3c?r3t-9Zk@127.0.0.1:1/0",
        "redis://ci:s3c/r3t-9Zk@127.0.0.1:1/0",
    ] {
        let out = capstan(
            &dir,
            &["scan", "--cache-url", url, "--cache-dir", "cache", "tree"],
        );
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{url}: {stderr}");
        assert!(
            !stderr.contains("r3t-9Zk"),
            "{url}: the password shows: {stderr}"
        );
    }
}

/// Servers that answer lookups but refuse every write: a replica whose primary is gone
/// (`READONLY`), and one over its memory limit with no eviction (`OOM`).
fn refusing_servers() -> [(Redis, &'static str); 2] {
    let primary = free_port().to_string();
    [
        (
            Redis::start_with(&["--replicaof", "127.0.0.1", &primary]),
            "read only",
        ),
        (
            Redis::start_with(&["--maxmemory", "100kb", "--maxmemory-policy", "noeviction"]),
            "OOM",
        ),
    ]
}

#[test]
fn a_server_that_refuses_writes_is_one_warning_and_the_same_report() {
    let dir = Scratch::new("shared-refuse");
    tree(&dir);
    let fresh = scan(&dir, &["--no-cache"]);
    for (n, (redis, why)) in refusing_servers().into_iter().enumerate() {
        let url = redis.url();
        let cache = format!("cache-{n}");
        let run = scan(&dir, &["--cache-dir", &cache, "--cache-url", &url]);
        assert_same(&run, &fresh, why);
        let w = run.one_shared_warning(&url);
        assert!(w.contains("write failed") && w.contains(why), "{why}: {w}");
        assert_accounted(&run, TREE_FILES);
        assert_eq!(run.stat("cache_shared_hits"), 0, "{why}");
        assert_eq!(dbsize(&redis), 0, "{why}");
    }
}

#[test]
fn the_warning_for_refused_writes_is_one_short_line() {
    let dir = Scratch::new("shared-refuse-short");
    tree(&dir);
    for (n, (redis, why)) in refusing_servers().into_iter().enumerate() {
        let url = redis.url();
        let cache = format!("cache-{n}");
        let run = scan(&dir, &["--cache-dir", &cache, "--cache-url", &url]);
        let w = run.one_shared_warning(&url);
        let start: String = w.chars().take(300).collect();
        assert!(
            w.len() < 400,
            "{why}: a warning of {} bytes: {start}…",
            w.len()
        );
    }
}

#[test]
fn a_server_that_stops_answering_is_given_up_within_the_timeout() {
    let dir = Scratch::new("shared-slow");
    tree(&dir);
    let redis = Redis::start_with(&["--enable-debug-command", "local"]);
    let url = redis.url();
    let fresh = scan(&dir, &["--no-cache"]);
    // The server sleeps on the command, and the scan starts once it has stopped answering.
    // Ten seconds, not two: a scan that starts late on a loaded machine (rules compile first)
    // must still find it asleep; the test does not wait for it (the server is killed on drop).
    let mut sleeper = redis
        .cli_command()
        .args(["DEBUG", "SLEEP", "10"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-cli runs");
    let deadline = Instant::now() + Duration::from_secs(2);
    while redis.answers(Duration::from_millis(50)) {
        assert!(Instant::now() < deadline, "DEBUG SLEEP did not take");
    }
    let asleep = Instant::now();
    let run = scan(
        &dir,
        &[
            "--cache-dir",
            "cache",
            "--cache-url",
            &url,
            "--cache-timeout",
            "200ms",
        ],
    );
    // --cache-timeout sets the wait.
    let patient = scan(
        &dir,
        &[
            "--cache-dir",
            "cache-b",
            "--cache-url",
            &url,
            "--cache-timeout",
            "1s",
        ],
    );
    let took = asleep.elapsed();
    // Had any call waited for the server, the scans could not have ended before it woke.
    let awake = sleeper.try_wait().expect("wait");
    assert!(
        awake.is_none() && took < Duration::from_secs(9),
        "the scans took {took:?}: they waited for the server"
    );
    for (run, within) in [(&run, "200 ms"), (&patient, "1000 ms")] {
        assert_same(run, &fresh, "a sleeping server");
        let w = run.one_shared_warning(&url);
        assert!(w.contains(&format!("no answer within {within}")), "{w}");
        assert!(
            run.stat("cache_shared_fallbacks") > 0,
            "{:#}",
            run.report["stats"]
        );
        assert_accounted(run, TREE_FILES);
    }
    drop(redis);
    let _ = wait(sleeper, Duration::from_secs(10));
}

/// What a [`Proxy`] does once it has forwarded its quota of `MGET`s.
enum Fault {
    /// Forwards that `MGET`, then nothing more either way, and SIGKILLs the server.
    Kill(Arc<Redis>),
    /// Forwards neither that `MGET` nor anything more either way, holding every connection
    /// open: the server is there but never answers.
    Stall,
}

/// What a proxy's threads share.
struct ProxyState {
    upstream: u16,
    after: usize,
    fault: Fault,
    mgets: AtomicUsize,
    held: AtomicBool,
    stop: AtomicBool,
    streams: Mutex<Vec<TcpStream>>,
}

/// A TCP proxy on a loopback port in front of a Redis server that counts the `MGET`s passing
/// through it (over every connection) and, at the `after`-th, does its [`Fault`].
struct Proxy {
    port: u16,
    state: Arc<ProxyState>,
    accept: Option<JoinHandle<()>>,
}

impl Proxy {
    fn start(upstream: u16, after: usize, fault: Fault) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let state = Arc::new(ProxyState {
            upstream,
            after,
            fault,
            mgets: AtomicUsize::new(0),
            held: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            streams: Mutex::new(Vec::new()),
        });
        let s = Arc::clone(&state);
        let accept = std::thread::spawn(move || {
            for client in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                // A dead server: the client's connection is closed at once.
                let Ok(server) = TcpStream::connect(("127.0.0.1", s.upstream)) else {
                    continue;
                };
                let clones = (client.try_clone(), server.try_clone());
                let (Ok(c), Ok(u)) = clones else { continue };
                {
                    let mut streams = s.streams.lock().expect("streams");
                    streams.extend([c.try_clone(), u.try_clone()].into_iter().flatten());
                }
                let up = Arc::clone(&s);
                std::thread::spawn(move || pump(&up, client, server, true));
                let down = Arc::clone(&s);
                std::thread::spawn(move || pump(&down, u, c, false));
            }
        });
        Proxy {
            port,
            state,
            accept: Some(accept),
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn mgets(&self) -> usize {
        self.state.mgets.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        for s in self.state.streams.lock().expect("streams").iter() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// Copies `from` to `to` until either closes; `requests` is the client-to-server direction,
/// where `MGET`s are counted and the fault is done.
fn pump(state: &ProxyState, mut from: TcpStream, mut to: TcpStream, requests: bool) {
    const MGET: &[u8] = b"\r\nMGET\r\n";
    let mut buf = vec![0u8; 64 * 1024];
    // The end of what came before: a command name split between two reads is still counted.
    let mut seen: Vec<u8> = Vec::new();
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if state.held.load(Ordering::SeqCst) {
            continue;
        }
        let mut fault_now = false;
        if requests {
            seen.extend_from_slice(&buf[..n]);
            let found = seen.windows(MGET.len()).filter(|w| *w == MGET).count();
            seen.drain(..seen.len().saturating_sub(MGET.len() - 1));
            let before = state.mgets.fetch_add(found, Ordering::SeqCst);
            fault_now = before < state.after && before + found >= state.after;
        }
        if fault_now && matches!(state.fault, Fault::Stall) {
            state.held.store(true, Ordering::SeqCst);
            continue;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        if fault_now && let Fault::Kill(redis) = &state.fault {
            state.held.store(true, Ordering::SeqCst);
            redis.kill();
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

/// Runner 1 fills the server directly; runner 2, with an empty local cache, goes through a
/// proxy that does `fault` at the third `MGET`, a few batches into the scan. Runner 2's report,
/// the proxy's URL, and how long runner 2 took.
fn faulted_mid_scan(
    name: &str,
    fault: impl FnOnce(&Arc<Redis>) -> Fault,
) -> (Run, String, Duration) {
    let dir = Scratch::new(name);
    tree(&dir);
    let redis = Arc::new(Redis::start());
    let fresh = scan(&dir, &["--no-cache"]);
    let first = scan(
        &dir,
        &["--cache-dir", "cache-a", "--cache-url", &redis.url()],
    );
    assert_same(&first, &fresh, "runner 1");
    assert_eq!(dbsize(&redis), TREE_FILES);
    let proxy = Proxy::start(redis.port(), 3, fault(&redis));
    let url = proxy.url();
    // Two workers: about five batches of 32 lookups each. A run that hangs on the server
    // fails the test rather than hanging it.
    let start = Instant::now();
    let child = capstan_command(
        &dir,
        &[
            "scan",
            "-f",
            "json",
            "--no-progress",
            "-j",
            "2",
            "--cache-dir",
            "cache-b",
            "--cache-url",
            &url,
            "tree",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("capstan starts");
    let run = Run::of(&wait(child, Duration::from_secs(30)));
    let took = start.elapsed();
    assert_same(&run, &fresh, name);
    run.one_shared_warning(&url);
    assert!(proxy.mgets() >= 3, "{} MGETs", proxy.mgets());
    assert!(
        run.stat("cache_shared_hits") > 0,
        "{:#}",
        run.report["stats"]
    );
    assert!(
        run.stat("cache_shared_fallbacks") > 0,
        "{:#}",
        run.report["stats"]
    );
    assert_accounted(&run, TREE_FILES);
    (run, url, took)
}

#[test]
fn a_server_killed_mid_scan_is_given_up_and_the_scan_completes() {
    let (run, url, _) = faulted_mid_scan("shared-killed", |r| Fault::Kill(Arc::clone(r)));
    let w = run.one_shared_warning(&url);
    assert!(
        w.contains("lookup failed") || w.contains("cannot connect"),
        "{w}"
    );
}

#[test]
fn a_server_that_stalls_mid_scan_is_given_up_within_the_timeout() {
    let (run, url, took) = faulted_mid_scan("shared-stalled", |_| Fault::Stall);
    let w = run.one_shared_warning(&url);
    assert!(w.contains("no answer within 200 ms"), "{w}");
    // The stalled server never answers: only the timeout ends the calls waiting on it.
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn garbage_and_truncated_values_are_rejected_and_rewritten() {
    let dir = Scratch::new("shared-garbage");
    tree(&dir);
    let redis = Redis::start();
    let url = redis.url();
    let fresh = scan(&dir, &["--no-cache"]);
    let first = scan(&dir, &["--cache-dir", "cache-a", "--cache-url", &url]);
    assert_same(&first, &fresh, "runner 1");
    let keys = keys(&redis);
    assert_eq!(keys.len() as u64, TREE_FILES);
    // Half garbage: bytes that are no value, and a value's magic with a checksum that does
    // not match a payload saying "no findings". Half truncated: within the magic, within the
    // checksum, right after it, in the middle of the payload, and short of its last byte.
    let truncate = "local n = redis.call('STRLEN', KEYS[1]) \
                    local keep = tonumber(ARGV[1]) \
                    if keep == 0 then keep = math.floor(n / 2) elseif keep < 0 then keep = n + keep end \
                    redis.call('SET', KEYS[1], redis.call('GETRANGE', KEYS[1], 0, keep - 1), 'KEEPTTL') \
                    return keep";
    let mut script = String::new();
    for (i, key) in keys.iter().enumerate() {
        let line = match i % 2 {
            0 if i % 4 == 0 => format!("SET {key} \"not a capstan value {i}\" KEEPTTL"),
            0 => format!(
                "SET {key} \"cpc\\x01\\x00\\x11\\x22\\x33\\x44\\x55\\x66\\x77\\x88\\x99\\xaa\\xbb\\xcc\\xdd\\xee\\xff{{\\\"f\\\":[],\\\"n\\\":1,\\\"q\\\":0}}\" KEEPTTL"
            ),
            _ => {
                let keep = ["3", "10", "20", "0", "-1"][(i / 2) % 5];
                format!("EVAL \"{truncate}\" 1 {key} {keep}")
            }
        };
        script.push_str(&line);
        script.push('\n');
    }
    let replies = redis.cli_script(&script);
    assert!(!replies.contains("ERR"), "{replies}");

    let second = scan(&dir, &["--cache-dir", "cache-b", "--cache-url", &url]);
    assert_same(&second, &fresh, "runner 2, on damaged values");
    second.no_warning("runner 2");
    assert_eq!(
        second.stat("cache_shared_rejected"),
        keys.len() as u64,
        "{:#}",
        second.report["stats"]
    );
    assert_eq!(second.stat("cache_shared_hits"), 0);
    assert_eq!(second.stat("cache_misses"), TREE_FILES);

    // Runner 2 wrote good values back: runner 3 is answered by them.
    let third = scan(&dir, &["--cache-dir", "cache-c", "--cache-url", &url]);
    assert_same(&third, &fresh, "runner 3");
    assert_eq!(
        third.stat("cache_shared_hits"),
        TREE_FILES,
        "{:#}",
        third.report["stats"]
    );
    assert_eq!(third.stat("cache_shared_rejected"), 0);
    assert_eq!(third.stat("cache_misses"), 0);
}

#[test]
fn entries_live_as_long_as_the_ttl_says() {
    let dir = Scratch::new("shared-ttl");
    tree(&dir);
    let redis = Redis::start();
    let url = redis.url();
    let ttl = |redis: &Redis| -> Vec<i64> {
        keys(redis)
            .iter()
            .take(5)
            .map(|k| redis.cli(&["TTL", k]).trim().parse().expect("a TTL"))
            .collect()
    };
    let run = scan(
        &dir,
        &[
            "--cache-dir",
            "cache-a",
            "--cache-url",
            &url,
            "--cache-ttl",
            "1h",
        ],
    );
    run.no_warning("--cache-ttl 1h");
    let one_hour = ttl(&redis);
    assert_eq!(one_hour.len(), 5);
    assert!(
        one_hour.iter().all(|t| (3501..=3600).contains(t)),
        "{one_hour:?}"
    );
    redis.cli(&["FLUSHALL"]);
    let run = scan(&dir, &["--cache-dir", "cache-b", "--cache-url", &url]);
    run.no_warning("the default TTL");
    let thirty_days = ttl(&redis);
    assert_eq!(thirty_days.len(), 5);
    assert!(
        thirty_days
            .iter()
            .all(|t| (30 * 86_400 - 100..=30 * 86_400).contains(t)),
        "{thirty_days:?}"
    );
}

#[test]
fn eight_processes_share_one_cache_dir() {
    let dir = Scratch::new("shared-eight");
    tree(&dir);
    let redis = Redis::start();
    let url = redis.url();
    let fresh = scan(&dir, &["--no-cache"]);
    // Every process is started before any is waited for.
    let children: Vec<_> = (0..8)
        .map(|i| {
            let report = format!("report-{i}.json");
            capstan_command(
                &dir,
                &[
                    "scan",
                    "-f",
                    "json",
                    "-o",
                    &report,
                    "--no-progress",
                    "--cache-dir",
                    "cache",
                    "--cache-url",
                    &url,
                    "tree",
                ],
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("capstan starts")
        })
        .collect();
    let outs: Vec<Output> = children
        .into_iter()
        .map(|c| wait(c, Duration::from_secs(60)))
        .collect();
    for (i, out) in outs.iter().enumerate() {
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "process {i}: {stderr}");
        assert!(!stderr.contains("warning"), "process {i}: {stderr}");
        let report = std::fs::read(dir.path(&format!("report-{i}.json"))).expect("a report");
        let run = Run::of(&Output {
            status: out.status,
            stdout: report,
            stderr: out.stderr.clone(),
        });
        assert_same(&run, &fresh, &format!("process {i}"));
    }
    let slots = |dir: &Scratch| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir.path("cache"))
            .expect("the cache dir")
            .map(|e| {
                e.expect("an entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    };
    let held = slots(&dir);
    // A ninth run, alone, without Redis: the local store answers every file, and its close
    // folds whatever slots were left into the first.
    let ninth = scan(&dir, &["--cache-dir", "cache"]);
    assert_same(&ninth, &fresh, "the ninth run");
    ninth.no_warning("the ninth run");
    assert_eq!(
        ninth.stat("cache_misses"),
        0,
        "slots after the eight: {held:?}; {:#}",
        ninth.report["stats"]
    );
    assert_eq!(ninth.stat("cache_local_hits"), TREE_FILES);
    assert_eq!(
        slots(&dir),
        ["scan.redb"],
        "slots after the eight: {held:?}"
    );
}

#[test]
fn metrics_file_has_the_shared_level() {
    let dir = Scratch::new("shared-metrics");
    tree(&dir);
    let redis = Redis::start();
    let url = redis.url();
    for (cache, hits) in [("cache-a", 0), ("cache-b", TREE_FILES)] {
        let metrics = format!("{cache}.prom");
        let run = scan(
            &dir,
            &[
                "--cache-dir",
                cache,
                "--cache-url",
                &url,
                "--metrics-file",
                &metrics,
            ],
        );
        run.no_warning(cache);
        let prom = std::fs::read_to_string(dir.path(&metrics)).expect("the metrics file");
        let value = |name: &str| -> Option<u64> {
            prom.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        };
        assert_eq!(
            value("capstan_scan_cache_lookups_total{level=\"shared\",result=\"hit\"}"),
            Some(hits),
            "{prom}"
        );
        assert_eq!(
            value("capstan_scan_cache_lookups_total{level=\"shared\",result=\"miss\"}"),
            Some(TREE_FILES - hits),
            "{prom}"
        );
        let round_trips = value("capstan_scan_cache_shared_rtt_seconds_count");
        assert!(round_trips.is_some_and(|n| n > 0), "{prom}");
        assert_eq!(
            value("capstan_scan_cache_shared_rtt_seconds_bucket{le=\"+Inf\"}"),
            round_trips,
            "{prom}"
        );
        assert_eq!(value("capstan_scan_cache_shared_fallbacks_total"), Some(0));
        assert_eq!(value("capstan_scan_cache_shared_rejected_total"), Some(0));
    }
}

#[test]
fn the_url_from_the_flag_the_environment_or_nowhere() {
    let dir = Scratch::new("shared-url");
    tree(&dir);
    let redis = Redis::start();
    let url = redis.url();
    let fresh = scan(&dir, &["--no-cache"]);

    for bad in ["not a url", "http://u:s3cr3t-pw@127.0.0.1:1/0"] {
        let out = capstan(
            &dir,
            &["scan", "--cache-url", bad, "--cache-dir", "cache", "tree"],
        );
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
        assert!(!stderr.contains("s3cr3t"), "{stderr}");
        let shown = bad.replace("s3cr3t-pw", "***");
        assert!(
            stderr.contains(&format!("cache URL {shown}: ")),
            "{bad}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{bad}: no report");
    }

    // --no-cache wins over a URL: Redis is not touched.
    let off = scan(&dir, &["--no-cache", "--cache-url", &url]);
    assert_same(&off, &fresh, "--no-cache --cache-url");
    off.no_warning("--no-cache --cache-url");
    assert!(
        off.report["stats"].get("cache_shared_rtt").is_none(),
        "{:#}",
        off.report["stats"]
    );
    assert_eq!(dbsize(&redis), 0);
    assert!(!dir.cache().exists(), "no local cache either");

    // CAPSTAN_CACHE_URL is the flag: runner 1 fills, runner 2 is answered.
    let with_env = |cache: &str| {
        let out = capstan_command(
            &dir,
            &[
                "scan",
                "-f",
                "json",
                "--no-progress",
                "--cache-dir",
                cache,
                "tree",
            ],
        )
        .env("CAPSTAN_CACHE_URL", &url)
        .output()
        .expect("capstan runs");
        Run::of(&out)
    };
    let first = with_env("cache-a");
    assert_same(&first, &fresh, "CAPSTAN_CACHE_URL, runner 1");
    first.no_warning("CAPSTAN_CACHE_URL, runner 1");
    assert_eq!(first.stat("cache_shared_misses"), TREE_FILES);
    assert_eq!(dbsize(&redis), TREE_FILES);
    let second = with_env("cache-b");
    assert_same(&second, &fresh, "CAPSTAN_CACHE_URL, runner 2");
    assert_eq!(second.stat("cache_shared_hits"), TREE_FILES);

    // Set but empty: no shared level.
    let out = capstan_command(
        &dir,
        &[
            "scan",
            "-f",
            "json",
            "--no-progress",
            "--cache-dir",
            "cache-c",
            "tree",
        ],
    )
    .env("CAPSTAN_CACHE_URL", "")
    .output()
    .expect("capstan runs");
    let empty = Run::of(&out);
    assert_same(&empty, &fresh, "CAPSTAN_CACHE_URL=");
    empty.no_warning("CAPSTAN_CACHE_URL=");
    assert!(empty.report["stats"].get("cache_shared_rtt").is_none());
}

/// `openssl ARGS` in `dir`; a failure fails the test.
fn openssl(dir: &Scratch, args: &[&str]) {
    let out = tool("openssl")
        .args(args)
        .current_dir(&dir.0)
        .stdin(Stdio::null())
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        text(&out.stderr)
    );
}

/// In `dir`: a CA (`ca.pem`) and a certificate it signs for 127.0.0.1 (`server.pem`,
/// `server.key`).
fn certificates(dir: &Scratch) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=capstan test CA",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    dir.write("ext", "subjectAltName=IP:127.0.0.1\n");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext",
        ],
    );
}

#[test]
fn rediss_verifies_the_server_against_the_trust_store() {
    let dir = Scratch::new("shared-tls");
    tree(&dir);
    certificates(&dir);
    let tls = free_port().to_string();
    let path = |f: &str| dir.path(f).display().to_string();
    let redis = Redis::start_with(&[
        "--tls-port",
        &tls,
        "--tls-cert-file",
        &path("server.pem"),
        "--tls-key-file",
        &path("server.key"),
        "--tls-ca-cert-file",
        &path("ca.pem"),
        "--tls-auth-clients",
        "no",
    ]);
    let url = format!("rediss://127.0.0.1:{tls}/0");
    let fresh = scan(&dir, &["--no-cache"]);
    // The CA trusted (rustls-native-certs reads SSL_CERT_FILE): a runner fills the level over
    // TLS, a second one with an empty local cache is answered by it.
    let trusted = |cache: &str| {
        let mut cmd = capstan_command(
            &dir,
            &[
                "scan",
                "-f",
                "json",
                "--no-progress",
                "--cache-dir",
                cache,
                "--cache-url",
                &url,
                // About trust, not latency: a TLS handshake in a debug build on a loaded
                // machine can take longer than the default 200 ms.
                "--cache-timeout",
                "10s",
                "tree",
            ],
        );
        Run::of(
            &cmd.env("SSL_CERT_FILE", dir.path("ca.pem"))
                .output()
                .expect("runs"),
        )
    };
    let first = trusted("a");
    assert_same(&first, &fresh, "over TLS");
    first.no_warning("over TLS");
    assert_eq!(dbsize(&redis), TREE_FILES, "written over TLS");
    let second = trusted("b");
    assert_same(&second, &fresh, "second runner over TLS");
    assert_eq!(second.stat("cache_shared_hits"), TREE_FILES);
    // Not trusted: the certificate is refused, and the scan goes on without the level.
    let untrusted = scan(&dir, &["--cache-dir", "c", "--cache-url", &url]);
    assert_same(&untrusted, &fresh, "untrusted certificate");
    let w = untrusted.one_shared_warning(&url);
    assert!(w.contains("certificate"), "{w}");
    assert_eq!(untrusted.stat("cache_shared_hits"), 0);
}
