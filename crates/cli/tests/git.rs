//! `capstan git` on repositories built here with the real `git` CLI: attribution of a secret to
//! the commit that brought it, every kind of ref (branches, tags, remotes, the stash and its
//! reflog), renames, merges, shallow, packed and bare repositories, `--since`, `--branch`,
//! `--staged`, a corrupt object, threads and the cache; and the same command as a pre-commit
//! hook through the real `pre-commit` tool.
//!
//! Every git run is isolated from the user's configuration (`HOME`, `GIT_CONFIG_NOSYSTEM`, a
//! config file of the test's own) and dated by a clock of the test's own, so commit ids and
//! the order of history are the same on every run.

mod common;

use std::cell::Cell;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{GIT_ENV, Scratch, text, tool};

/// Tokens the built-in `github-classic-pat` rule finds.
const T1: &str = "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";
const T2: &str = "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";
const T3: &str = "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";
const T4: &str = "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";

/// The first commit's time: 2026-12-06T09:00:00+01:00. Each git run is a minute later.
const EPOCH: i64 = 1_796_544_000;

/// A file holding `token` on its first line.
fn env(token: &str) -> String {
    format!("GITHUB_TOKEN={token}\n")
}

/// A repository built by the test in a [`Scratch`] directory: `repo/` is its work tree,
/// `home/` the `HOME` every git and capstan run gets (with the only git config they read).
struct Repo {
    scratch: Scratch,
    dir: PathBuf,
    clock: Cell<i64>,
}

impl Repo {
    fn new(name: &str) -> Repo {
        let scratch = Scratch::new(&format!("git-{name}"));
        scratch.write(
            "home/.gitconfig",
            "[user]\n\tname = Capstan Test\n\temail = test@example.com\n\
             [init]\n\tdefaultBranch = main\n\
             [commit]\n\tgpgSign = false\n[tag]\n\tgpgSign = false\n\
             [gc]\n\tauto = 0\n[maintenance]\n\tauto = false\n\
             [core]\n\tautocrlf = false\n\
             [advice]\n\tdetachedHead = false\n",
        );
        let repo = Repo {
            dir: scratch.path("repo"),
            scratch,
            clock: Cell::new(EPOCH),
        };
        let root = repo.scratch.0.clone();
        repo.git_in(
            &root,
            &["-c", "init.defaultBranch=main", "init", "-q", "repo"],
        );
        repo
    }

    fn home(&self) -> PathBuf {
        self.scratch.path("home")
    }

    /// `cmd` with the test's isolated environment (see [`GIT_ENV`]).
    fn isolate(&self, cmd: &mut Command) {
        for var in GIT_ENV {
            cmd.env_remove(var);
        }
        cmd.env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.home().join(".config"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", self.home().join(".gitconfig"))
            .env("GIT_CEILING_DIRECTORIES", &self.scratch.0)
            .env("LC_ALL", "C");
    }

    /// `git ARGS` in `dir`, dated a minute after the last run; its stdout, trimmed. A failure
    /// fails the test.
    fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let t = self.clock.get() + 60;
        self.clock.set(t);
        let date = format!("{t} +0100");
        let mut cmd = tool("git");
        self.isolate(&mut cmd);
        let out = cmd
            .current_dir(dir)
            .args(args)
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .stdin(Stdio::null())
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout).trim().to_owned()
    }

    fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.dir, args)
    }

    /// The object id `spec` names.
    fn rev(&self, spec: &str) -> String {
        self.git(&["rev-parse", "--verify", "-q", spec])
    }

    fn write(&self, rel: &str, content: &str) {
        let p = self.dir.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
    }

    fn remove(&self, rel: &str) {
        std::fs::remove_file(self.dir.join(rel)).expect("remove");
    }

    /// Commits everything in the work tree (`git add -A`); the new commit's id.
    fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.rev("HEAD")
    }

    /// `capstan ARGS` with the isolated environment, from the scratch directory.
    fn capstan(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_capstan"));
        self.isolate(&mut cmd);
        cmd.arg("git")
            .args(args)
            .env("XDG_CACHE_HOME", self.scratch.cache())
            .current_dir(&self.scratch.0)
            .stdin(Stdio::null())
            .output()
            .expect("capstan runs")
    }

    /// `capstan git --no-cache --rules secrets -f json --no-redact EXTRA TARGET`, parsed.
    fn scan(&self, target: &Path, extra: &[&str]) -> Report {
        let target = target.to_str().expect("utf-8 path");
        let mut args = vec![
            "--no-cache",
            "--rules",
            "secrets",
            "-f",
            "json",
            "--no-redact",
        ];
        args.extend_from_slice(extra);
        args.push(target);
        Report::of(&self.capstan(&args))
    }
}

/// A finding of a JSON report; `commit` and the rest are its `git` object's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Found {
    path: String,
    line: u64,
    secret: String,
    rule: String,
    fingerprint: String,
    commit: Option<String>,
    author: String,
    email: String,
    date: String,
    message: String,
}

/// A JSON report and how the run ended.
struct Report {
    code: Option<i32>,
    findings: Vec<Found>,
    /// (path, reason) of each error.
    errors: Vec<(String, String)>,
    stats: serde_json::Value,
    stderr: String,
}

impl Report {
    fn of(out: &Output) -> Report {
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "not a JSON report ({e}): {}\n{}",
                text(&out.stdout),
                text(&out.stderr)
            )
        });
        let s = |f: &serde_json::Value, k: &str| f[k].as_str().unwrap_or("").to_owned();
        let findings = v["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|f| {
                let g = &f["git"];
                Found {
                    path: s(f, "path"),
                    line: f["line"].as_u64().expect("line"),
                    secret: s(f, "secret"),
                    rule: s(f, "rule_id"),
                    fingerprint: s(f, "fingerprint"),
                    commit: g["commit"].as_str().map(str::to_owned),
                    author: s(g, "author"),
                    email: s(g, "email"),
                    date: s(g, "date"),
                    message: s(g, "message"),
                }
            })
            .collect();
        let errors = v["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| (s(e, "path"), s(e, "reason")))
            .collect();
        Report {
            code: out.status.code(),
            findings,
            errors,
            stats: v["stats"].clone(),
            stderr: text(&out.stderr),
        }
    }

    /// (path, line, secret) of every finding, sorted.
    fn places(&self) -> Vec<(String, u64, String)> {
        let mut p: Vec<_> = self
            .findings
            .iter()
            .map(|f| (f.path.clone(), f.line, f.secret.clone()))
            .collect();
        p.sort();
        p
    }

    /// The one finding at `path`.
    #[track_caller]
    fn at(&self, path: &str) -> &Found {
        let hits: Vec<&Found> = self.findings.iter().filter(|f| f.path == path).collect();
        assert_eq!(hits.len(), 1, "one finding at {path}: {:#?}", self.findings);
        hits[0]
    }

    fn stat(&self, key: &str) -> u64 {
        self.stats[key]
            .as_u64()
            .unwrap_or_else(|| panic!("stats.{key}: {}", self.stats))
    }

    /// Exit 1 and no errors: the usual outcome of a scan that finds something.
    #[track_caller]
    fn found_cleanly(&self) -> &Self {
        assert!(
            self.code == Some(1) && self.errors.is_empty(),
            "exit {:?}, errors {:?}\n{}",
            self.code,
            self.errors,
            self.stderr
        );
        self
    }
}

/// `(path, line, token)` for [`Report::places`].
fn place(path: &str, line: u64, token: &str) -> (String, u64, String) {
    (path.to_owned(), line, token.to_owned())
}

/// The rows two scans of the same history must agree on.
fn rows(r: &Report) -> Vec<(String, String, u64, String, Option<String>)> {
    let mut rows: Vec<_> = r
        .findings
        .iter()
        .map(|f| {
            (
                f.rule.clone(),
                f.path.clone(),
                f.line,
                f.fingerprint.clone(),
                f.commit.clone(),
            )
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn a_secret_removed_later_is_found_once_at_the_commit_that_added_it() {
    let repo = Repo::new("attribution");
    repo.write("README.md", "# app\n");
    repo.commit("start");
    repo.write("config/deploy.env", &format!("REGION=eu\n{}", env(T1)));
    repo.git(&["add", "-A"]);
    repo.git(&[
        "commit",
        "-q",
        "--author",
        "Ada Lovelace <ada@example.com>",
        "-m",
        "add the deploy config",
    ]);
    let added = repo.rev("HEAD");
    repo.write("README.md", "# app\n\nDeploys to eu.\n");
    repo.commit("document the region");
    repo.remove("config/deploy.env");
    repo.commit("remove the deploy config");

    let r = repo.scan(&repo.dir, &[]);
    r.found_cleanly();
    assert_eq!(r.places(), [place("config/deploy.env", 2, T1)]);
    let f = &r.findings[0];
    assert_eq!(f.commit.as_deref(), Some(added.as_str()));
    assert_eq!(f.author, "Ada Lovelace");
    assert_eq!(f.email, "ada@example.com");
    assert_eq!(f.message, "add the deploy config");
    assert_eq!(
        f.date,
        repo.git(&["log", "-1", "--format=%aI", &added]),
        "the date is git's, in RFC 3339"
    );
    assert!(f.date.ends_with("+01:00"), "{}", f.date);
    assert_eq!(r.stat("commits"), 4);

    // Text output ends each finding's line with the commit's short id.
    let out = repo.capstan(&["--no-cache", "--rules", "secrets", "repo"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let line = stdout.lines().next().expect("a finding line");
    assert!(line.starts_with("config/deploy.env:2:"), "{stdout}");
    assert!(
        line.ends_with(&format!("(commit {})", &added[..12])),
        "{stdout}"
    );
    assert!(!stdout.contains(T1), "text output redacts: {stdout}");
}

/// `git fast-import`'s `data` command for `content`.
fn data(stream: &mut Vec<u8>, content: &str) {
    writeln!(stream, "data {}\n{content}", content.len()).expect("in memory");
}

#[test]
fn a_blob_in_a_hundred_commits_is_scanned_once() {
    let repo = Repo::new("hundred");
    // One hundred commits through fast-import: the secret and three other files from the
    // first, a counter that changes in every one.
    let mut stream = Vec::new();
    for n in 0..100i64 {
        let t = EPOCH + n * 60;
        write!(
            stream,
            "commit refs/heads/main\n\
             author Capstan Test <test@example.com> {t} +0100\n\
             committer Capstan Test <test@example.com> {t} +0100\n"
        )
        .expect("in memory");
        data(&mut stream, &format!("commit {n}"));
        if n == 0 {
            for (path, content) in [
                ("secret.env", env(T1)),
                ("README.md", "# app\n".to_owned()),
                ("src/lib.rs", "pub fn f() {}\n".to_owned()),
                ("docs/notes.txt", "notes\n".to_owned()),
            ] {
                writeln!(stream, "M 100644 inline {path}").expect("in memory");
                data(&mut stream, &content);
            }
        }
        stream.extend_from_slice(b"M 100644 inline counter.txt\n");
        data(&mut stream, &format!("{n}\n"));
    }
    let mut cmd = tool("git");
    repo.isolate(&mut cmd);
    let mut child = cmd
        .current_dir(&repo.dir)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("git fast-import runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&stream)
        .expect("stream");
    assert!(child.wait().expect("fast-import").success());
    let first = repo.git(&["rev-list", "--max-parents=0", "main"]);

    let r = repo.scan(&repo.dir, &[]);
    r.found_cleanly();
    assert_eq!(r.places(), [place("secret.env", 1, T1)]);
    assert_eq!(r.findings[0].commit.as_deref(), Some(first.as_str()));
    assert_eq!(r.findings[0].message, "commit 0");
    assert_eq!(r.stat("commits"), 100);
    // 500 (commit, file) pairs; 104 distinct blobs, each read once.
    assert_eq!(r.stat("files"), 104, "{}", r.stats);
}

#[test]
fn secrets_only_on_a_side_branch_in_tags_and_in_the_stash_are_found() {
    let repo = Repo::new("refs");
    repo.write("README.md", "hello\n");
    repo.commit("start");
    // A branch never merged.
    repo.git(&["checkout", "-q", "-b", "side"]);
    repo.write("side.env", &env(T1));
    repo.commit("on the side");
    repo.git(&["checkout", "-q", "main"]);
    // Commits only tags reach: lightweight, then annotated.
    repo.git(&["checkout", "-q", "--detach", "main"]);
    repo.write("tag-light.env", &env(T2));
    repo.commit("tagged lightly");
    repo.git(&["tag", "light"]);
    repo.git(&["checkout", "-q", "--detach", "main"]);
    repo.write("tag-annotated.env", &env(T3));
    repo.commit("tagged with a message");
    repo.git(&["tag", "-a", "annotated", "-m", "release"]);
    repo.git(&["checkout", "-q", "main"]);
    // A tag pointing at a blob that no commit has.
    let loose = repo.scratch.path("blob.env");
    std::fs::write(&loose, format!("TAGGED=1\n{}", env(T3))).expect("write");
    let blob = repo.git(&["hash-object", "-w", loose.to_str().expect("utf-8")]);
    repo.git(&["tag", "blob-tag", &blob]);
    // Two stash entries: a staged new file (the older, stash@{1}, only in the stash's
    // reflog), then an unstaged change to a tracked file (stash@{0}).
    repo.write("stash-old.env", &env(T4));
    repo.git(&["add", "stash-old.env"]);
    repo.git(&["stash", "push", "-q", "-m", "older"]);
    repo.write("README.md", &format!("hello\n{}", env(T2)));
    repo.git(&["stash", "push", "-q", "-m", "newer"]);
    assert_eq!(repo.git(&["status", "--porcelain"]), "", "all stashed");
    // A commit on a detached HEAD: on no branch, and no tag.
    repo.git(&["checkout", "-q", "--detach", "main"]);
    repo.write("detached.env", &format!("DETACHED=1\n{}", env(T1)));
    let detached = repo.commit("on a detached HEAD");

    let r = repo.scan(&repo.dir, &[]);
    r.found_cleanly();
    assert_eq!(
        r.places(),
        [
            place("README.md", 2, T2),
            place("detached.env", 2, T1),
            place("refs/tags/blob-tag", 2, T3),
            place("side.env", 1, T1),
            place("stash-old.env", 1, T4),
            place("tag-annotated.env", 1, T3),
            place("tag-light.env", 1, T2),
        ]
    );
    let commit = |path: &str| r.at(path).commit.clone();
    assert_eq!(commit("side.env"), Some(repo.rev("side")));
    assert_eq!(commit("detached.env"), Some(detached));
    assert_eq!(commit("tag-light.env"), Some(repo.rev("light")));
    assert_eq!(
        commit("tag-annotated.env"),
        Some(repo.rev("annotated^{commit}"))
    );
    // The staged file is first in the stash's index commit (its second parent); the work
    // tree's change only in the stash commit itself.
    assert_eq!(commit("stash-old.env"), Some(repo.rev("stash@{1}^2")));
    assert_eq!(commit("README.md"), Some(repo.rev("stash@{0}")));
    assert_eq!(
        commit("refs/tags/blob-tag"),
        None,
        "no commit has that blob"
    );

    // Only main: nothing.
    let main = repo.scan(&repo.dir, &["--branch", "main"]);
    assert_eq!(main.code, Some(0), "{}", main.stderr);
    assert!(main.findings.is_empty());
}

#[test]
fn a_renamed_file_is_reported_at_the_commit_and_path_that_introduced_it() {
    let repo = Repo::new("rename");
    repo.write("README.md", "hello\n");
    repo.commit("start");
    repo.write("old/creds.env", &env(T1));
    let introduced = repo.commit("add creds");
    std::fs::create_dir_all(repo.dir.join("new")).expect("mkdir");
    repo.git(&["mv", "old/creds.env", "new/renamed.env"]);
    repo.commit("move creds");
    repo.write("README.md", "hello again\n");
    repo.commit("later");

    let r = repo.scan(&repo.dir, &[]);
    r.found_cleanly();
    assert_eq!(r.places(), [place("old/creds.env", 1, T1)]);
    assert_eq!(r.findings[0].commit, Some(introduced));
    assert_eq!(r.findings[0].message, "add creds");
}

#[test]
fn a_merge_reports_each_side_once() {
    let repo = Repo::new("merge");
    repo.write("README.md", "hello\n");
    repo.commit("start");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("feature.env", &env(T1));
    let feature = repo.commit("feature secret");
    repo.git(&["checkout", "-q", "main"]);
    repo.write("main.env", &env(T2));
    let main = repo.commit("main secret");
    repo.git(&["merge", "-q", "--no-ff", "-m", "merge feature", "feature"]);
    let merge = repo.rev("HEAD");
    assert_eq!(repo.git(&["rev-list", "--count", "--merges", "HEAD"]), "1");
    // The branch is gone after the merge: main reaches both sides.
    repo.git(&["branch", "-d", "feature"]);

    let r = repo.scan(&repo.dir, &[]);
    r.found_cleanly();
    assert_eq!(
        r.places(),
        [place("feature.env", 1, T1), place("main.env", 1, T2)]
    );
    assert_eq!(r.at("feature.env").commit, Some(feature));
    assert_eq!(r.at("main.env").commit, Some(main));
    assert!(r.findings.iter().all(|f| f.commit.as_ref() != Some(&merge)));
    assert_eq!(r.stat("commits"), 4);
}

#[test]
fn a_shallow_clone_scans_what_it_has_and_says_it_is_shallow() {
    let repo = Repo::new("shallow");
    repo.write("gone.env", &env(T1));
    repo.commit("a secret");
    repo.remove("gone.env");
    repo.write("kept.env", &env(T2));
    repo.commit("another secret");
    repo.write("README.md", "hello\n");
    let tip = repo.commit("docs");
    let url = format!("file://{}", repo.dir.display());
    let root = repo.scratch.0.clone();
    repo.git_in(&root, &["clone", "-q", "--depth", "1", &url, "shallow"]);
    let shallow = repo.scratch.path("shallow");
    assert!(shallow.join(".git/shallow").is_file());

    let r = repo.scan(&shallow, &[]);
    r.found_cleanly();
    // gone.env is before the boundary; kept.env is in the one commit the clone has.
    assert_eq!(r.places(), [place("kept.env", 1, T2)]);
    assert_eq!(r.findings[0].commit, Some(tip));
    assert_eq!(r.stat("commits"), 1);
    assert!(r.stderr.contains("shallow"), "{}", r.stderr);

    // The full repository has both.
    let full = repo.scan(&repo.dir, &[]);
    assert_eq!(
        full.places(),
        [place("gone.env", 1, T1), place("kept.env", 1, T2)]
    );
}

/// A history with a bit of everything: branches, a rename, a deletion, an annotated tag,
/// a merge and a stash.
fn busy_history(repo: &Repo) {
    repo.write("README.md", "hello\n");
    repo.write("src/lib.rs", "pub fn f() {}\n");
    repo.commit("start");
    repo.write("a/one.env", &env(T1));
    repo.commit("one");
    repo.git(&["checkout", "-q", "-b", "topic"]);
    repo.write("b/two.env", &format!("x=1\n{}", env(T2)));
    repo.commit("two");
    repo.git(&["mv", "a/one.env", "a/renamed.env"]);
    repo.commit("rename");
    repo.git(&["tag", "-a", "v1", "-m", "v1"]);
    repo.git(&["checkout", "-q", "main"]);
    repo.write("c/three.env", &env(T3));
    repo.commit("three");
    repo.remove("c/three.env");
    repo.commit("drop three");
    repo.git(&["merge", "-q", "--no-ff", "-m", "merge topic", "topic"]);
    for n in 0..5 {
        repo.write(&format!("docs/page{n}.md"), &format!("page {n}\n"));
        repo.commit(&format!("page {n}"));
    }
    repo.write("README.md", &format!("hello\n{}", env(T4)));
    repo.git(&["stash", "push", "-q"]);
}

#[test]
fn a_packed_repository_gives_the_findings_it_gave_loose() {
    let repo = Repo::new("packed");
    busy_history(&repo);
    let counts = |repo: &Repo| repo.git(&["count-objects", "-v"]);
    assert!(counts(&repo).contains("\npacks: 0"), "{}", counts(&repo));
    let loose = repo.scan(&repo.dir, &[]);
    loose.found_cleanly();
    // The renamed file's blob is the one a/one.env had: reported there only.
    assert_eq!(
        loose.places(),
        [
            place("README.md", 2, T4),
            place("a/one.env", 1, T1),
            place("b/two.env", 2, T2),
            place("c/three.env", 1, T3),
        ]
    );

    repo.git(&["gc", "-q", "--aggressive", "--prune=now"]);
    let after = counts(&repo);
    assert!(after.starts_with("count: 0\n"), "all packed: {after}");
    assert!(
        repo.dir.join(".git/packed-refs").is_file(),
        "gc packs refs too"
    );
    let packed = repo.scan(&repo.dir, &[]);
    packed.found_cleanly();
    assert_eq!(rows(&packed), rows(&loose));
    assert_eq!(
        packed.findings, loose.findings,
        "authors, dates and messages too"
    );
    assert_eq!(packed.stat("files"), loose.stat("files"));
}

#[test]
fn a_bare_clone_and_remote_branches_are_scanned() {
    let repo = Repo::new("bare");
    repo.write("README.md", "hello\n");
    repo.commit("start");
    repo.write("main.env", &env(T1));
    repo.commit("main secret");
    repo.git(&["checkout", "-q", "-b", "side"]);
    repo.write("side.env", &env(T2));
    repo.commit("side secret");
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&["tag", "-a", "v1", "-m", "v1"]);
    let source = repo.scan(&repo.dir, &[]);
    source.found_cleanly();
    assert_eq!(source.findings.len(), 2);

    let root = repo.scratch.0.clone();
    let src = repo.dir.to_str().expect("utf-8").to_owned();
    repo.git_in(&root, &["clone", "-q", "--bare", &src, "bare.git"]);
    let bare = repo.scan(&repo.scratch.path("bare.git"), &[]);
    bare.found_cleanly();
    assert_eq!(rows(&bare), rows(&source));
    let bare_main = repo.scan(&repo.scratch.path("bare.git"), &["--branch", "main"]);
    assert_eq!(bare_main.places(), [place("main.env", 1, T1)]);

    // A plain clone has `side` only as refs/remotes/origin/side (and origin/HEAD, a
    // symbolic ref): still scanned.
    repo.git_in(&root, &["clone", "-q", &src, "work"]);
    let work = repo.scratch.path("work");
    assert!(
        repo.git_in(&work, &["branch", "--list"])
            .lines()
            .eq(["* main"]),
        "one local branch"
    );
    let clone = repo.scan(&work, &[]);
    clone.found_cleanly();
    assert_eq!(rows(&clone), rows(&source));
}

#[test]
fn since_leaves_out_what_the_revision_reaches() {
    let repo = Repo::new("since");
    repo.write("old.env", &env(T1));
    repo.commit("old secret");
    repo.git(&["tag", "v1"]);
    repo.write("new.env", &env(T2));
    let new = repo.commit("new secret");
    // The old secret's blob again, under another name: already seen before v1.
    repo.write("copy.env", &env(T1));
    repo.write("README.md", "hello\n");
    repo.commit("copy and docs");

    let all = repo.scan(&repo.dir, &[]);
    assert_eq!(
        all.places(),
        [place("new.env", 1, T2), place("old.env", 1, T1)]
    );
    let r = repo.scan(&repo.dir, &["--since", "v1"]);
    r.found_cleanly();
    assert_eq!(r.places(), [place("new.env", 1, T2)]);
    assert_eq!(r.findings[0].commit, Some(new));
    assert_eq!(r.stat("commits"), 2);
    let nothing_new = repo.scan(&repo.dir, &["--since", "HEAD"]);
    assert_eq!(nothing_new.code, Some(0), "{}", nothing_new.stderr);
    assert_eq!(nothing_new.stat("commits"), 0);

    let bad = repo.capstan(&[
        "--no-cache",
        "--rules",
        "secrets",
        "--since",
        "no-such-rev",
        "repo",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("no-such-rev"),
        "{}",
        text(&bad.stderr)
    );
}

#[test]
fn branch_scans_only_what_it_reaches() {
    let repo = Repo::new("branch");
    repo.write("main.env", &env(T1));
    repo.commit("main secret");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("feature.env", &env(T2));
    let feature = repo.commit("feature secret");
    repo.git(&["checkout", "-q", "-b", "other", "main"]);
    repo.write("other.env", &env(T3));
    repo.commit("other secret");
    repo.git(&["checkout", "-q", "main"]);

    let main = repo.scan(&repo.dir, &["--branch", "main"]);
    assert_eq!(main.places(), [place("main.env", 1, T1)]);
    let feat = repo.scan(&repo.dir, &["--branch", "feature"]);
    feat.found_cleanly();
    assert_eq!(
        feat.places(),
        [place("feature.env", 1, T2), place("main.env", 1, T1)]
    );
    // main..feature: only what the branch adds.
    let adds = repo.scan(&repo.dir, &["--since", "main", "--branch", "feature"]);
    assert_eq!(adds.places(), [place("feature.env", 1, T2)]);
    assert_eq!(adds.findings[0].commit, Some(feature));
    // A revision expression works too.
    let other = repo.scan(&repo.dir, &["--branch", "refs/heads/other~0"]);
    assert_eq!(
        other.places(),
        [place("main.env", 1, T1), place("other.env", 1, T3)]
    );

    let bad = repo.capstan(&[
        "--no-cache",
        "--rules",
        "secrets",
        "--branch",
        "nope",
        "repo",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("nope"), "{}", text(&bad.stderr));
}

#[test]
fn staged_reports_added_lines_of_what_the_next_commit_records() {
    let repo = Repo::new("staged");
    repo.write("app.env", &format!("NAME=app\n{}", env(T1)));
    repo.write("README.md", "hello\n");
    repo.commit("start: a secret already committed");
    let clean = repo.scan(&repo.dir, &["--staged"]);
    assert_eq!(clean.code, Some(0), "nothing staged: {}", clean.stderr);

    // A line added to a file whose committed line holds a secret; a new file in a new
    // directory.
    repo.write("app.env", &format!("NAME=app\n{}NEW_{}", env(T1), env(T2)));
    repo.write("conf/staged.env", &env(T3));
    repo.git(&["add", "app.env", "conf/staged.env"]);
    // After `git add`: the work tree changes again, and an untracked file appears.
    repo.write("conf/staged.env", &format!("{}{}", env(T3), env(T4)));
    repo.write("untracked.env", &env(T4));
    repo.write("README.md", &format!("hello\n{}", env(T4)));

    let r = repo.scan(&repo.dir, &["--staged"]);
    r.found_cleanly();
    assert_eq!(
        r.places(),
        [place("app.env", 3, T2), place("conf/staged.env", 1, T3)],
        "the added line's secret and the staged file's, not HEAD's or the work tree's"
    );
    assert!(r.findings.iter().all(|f| f.commit.is_none()));

    // A repository with no commit yet: everything staged is new.
    let fresh = Repo::new("staged-fresh");
    fresh.write("first.env", &format!("A=1\n{}", env(T1)));
    fresh.git(&["add", "first.env"]);
    let r = fresh.scan(&fresh.dir, &["--staged"]);
    r.found_cleanly();
    assert_eq!(r.places(), [place("first.env", 2, T1)]);
}

#[test]
fn a_corrupt_object_is_an_error_naming_it_and_the_rest_is_scanned() {
    let repo = Repo::new("corrupt");
    repo.write("secret.env", &env(T1));
    repo.write("notes.txt", "just some notes\n");
    repo.commit("one");
    repo.write("other.env", &env(T2));
    repo.commit("two");
    let blob = repo.rev("HEAD:notes.txt");
    let object = repo
        .dir
        .join(".git/objects")
        .join(&blob[..2])
        .join(&blob[2..]);
    let bytes = std::fs::read(&object).expect("a loose object");
    let expect = [place("other.env", 1, T2), place("secret.env", 1, T1)];

    let check = |how: &str| {
        let r = repo.scan(&repo.dir, &[]);
        assert_eq!(r.code, Some(2), "{how}: {}", r.stderr);
        assert_eq!(r.places(), expect, "{how}: the rest is scanned");
        assert_eq!(r.errors.len(), 1, "{how}: {:?}", r.errors);
        let (path, _) = &r.errors[0];
        assert!(
            path.contains("notes.txt") && path.contains(&blob),
            "{how}: the error names the path and the blob: {:?}",
            r.errors
        );
        assert!(
            r.stderr.contains("notes.txt"),
            "{how}: stderr says so: {}",
            r.stderr
        );
    };
    std::fs::remove_file(&object).expect("delete the object");
    check("deleted");
    std::fs::write(&object, &bytes[..bytes.len() / 2]).expect("truncate");
    check("truncated");
    // Garbage that still inflates: a zlib stream of something that is not an object header.
    std::fs::write(&object, {
        use flate2::{Compression, write::ZlibEncoder};
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(b"blob 9999\0short").expect("deflate");
        z.finish().expect("deflate")
    })
    .expect("rewrite");
    check("wrong size");
}

#[test]
fn threads_and_the_cache_do_not_change_the_findings() {
    let repo = Repo::new("threads");
    for round in 0..4 {
        for n in 0..10 {
            repo.write(
                &format!("dir{n}/file{n}.txt"),
                &format!("round {round} file {n}\n"),
            );
        }
        let token = [T1, T2, T3, T4][round];
        repo.write(&format!("secrets/s{round}.env"), &env(token));
        repo.commit(&format!("round {round}"));
    }
    let one = repo.scan(&repo.dir, &["-j", "1"]);
    one.found_cleanly();
    assert_eq!(one.findings.len(), 4);
    let four = repo.scan(&repo.dir, &["-j", "4"]);
    assert_eq!(four.findings, one.findings, "-j 4 gives what -j 1 gives");

    // The cache holds redacted results only (`--no-redact` runs bypass it).
    let cache = repo.scratch.path("cache");
    let cache = cache.to_str().expect("utf-8");
    let run = |args: &[&str]| {
        let mut all = vec!["--rules", "secrets", "-f", "json"];
        all.extend_from_slice(args);
        all.push("repo");
        Report::of(&repo.capstan(&all))
    };
    let cold = run(&["--cache-dir", cache, "-j", "2"]);
    cold.found_cleanly();
    assert_eq!(cold.stat("cache_hits"), 0, "{}", cold.stats);
    assert!(cold.stat("cache_misses") > 0, "{}", cold.stats);
    assert_eq!(rows(&cold), rows(&one), "a cold cache");
    assert!(
        cold.findings.iter().all(|f| f.secret == "ghp_…"),
        "redacted"
    );
    let warm = run(&["--cache-dir", cache, "-j", "3"]);
    warm.found_cleanly();
    assert_eq!(
        warm.findings, cold.findings,
        "a warm cache: authors, dates and all"
    );
    assert!(warm.stat("cache_hits") > 0, "{}", warm.stats);
    assert_eq!(
        warm.stat("cache_misses"),
        0,
        "every blob from the cache: {}",
        warm.stats
    );
}

#[test]
fn a_directory_that_is_not_a_repository_is_an_error_naming_it() {
    let repo = Repo::new("not-a-repo");
    repo.scratch.write("plain/file.txt", &env(T1));
    for target in ["plain", "missing"] {
        let out = repo.capstan(&["--no-cache", "--rules", "secrets", target]);
        assert_eq!(out.status.code(), Some(2), "{target}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(target) && stderr.contains("not a git repository"),
            "{target}: {stderr}"
        );
        assert!(
            !text(&out.stdout).contains("ghp_"),
            "{target}: nothing scanned"
        );
    }
}

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

impl Repo {
    /// `pre-commit ARGS` in the work tree, its home in the scratch directory.
    fn pre_commit(&self, args: &[&str]) -> Output {
        let mut cmd = tool("pre-commit");
        self.isolate(&mut cmd);
        cmd.current_dir(&self.dir)
            .args(args)
            .env("PRE_COMMIT_HOME", self.scratch.path("pre-commit-home"))
            .stdin(Stdio::null())
            .output()
            .expect("pre-commit runs")
    }
}

#[test]
fn the_hook_manifest_and_the_readme_config_are_valid() {
    let repo = Repo::new("pre-commit-manifest");
    let manifest = root().join(".pre-commit-hooks.yaml");
    let out = repo.pre_commit(&["validate-manifest", manifest.to_str().expect("utf-8")]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let hooks = std::fs::read_to_string(&manifest).expect("the manifest");
    assert!(
        hooks.contains("- id: capstan\n") && hooks.contains("entry: capstan git --staged\n"),
        "the pre-commit test's local hook runs this entry: {hooks}"
    );
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let config = readme
        .split("```yaml\n")
        .skip(1)
        .filter_map(|s| s.split_once("```").map(|(yaml, _)| yaml))
        .find(|yaml| yaml.contains("id: capstan"))
        .expect("the README shows a pre-commit config using the capstan hook");
    repo.scratch.write("readme-config.yaml", config);
    let readme_config = repo.scratch.path("readme-config.yaml");
    let out = repo.pre_commit(&["validate-config", readme_config.to_str().expect("utf-8")]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn as_a_pre_commit_hook_it_refuses_a_commit_that_adds_a_secret() {
    let repo = Repo::new("pre-commit");
    // The same command through the real tool, offline: a local hook running this build.
    repo.write(
        ".pre-commit-config.yaml",
        &format!(
            "repos:\n  - repo: local\n    hooks:\n      - id: capstan\n        name: capstan\n        \
             language: system\n        entry: {} git --staged --no-cache --rules secrets\n        \
             pass_filenames: false\n",
            env!("CARGO_BIN_EXE_capstan")
        ),
    );
    let out = repo.pre_commit(&["install"]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let commit = |args: &[&str]| {
        let mut cmd = tool("git");
        repo.isolate(&mut cmd);
        cmd.current_dir(&repo.dir)
            .arg("commit")
            .args(args)
            .env("PRE_COMMIT_HOME", repo.scratch.path("pre-commit-home"))
            .env("GIT_AUTHOR_DATE", format!("{EPOCH} +0100"))
            .env("GIT_COMMITTER_DATE", format!("{EPOCH} +0100"))
            .stdin(Stdio::null())
            .output()
            .expect("git commit runs")
    };

    repo.write("README.md", "hello\n");
    repo.git(&["add", "-A"]);
    let out = commit(&["-q", "-m", "clean"]);
    let both = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "a clean commit passes: {both}");
    assert!(both.contains("capstan"), "the hook ran: {both}");
    let head = repo.rev("HEAD");

    repo.write("deploy.env", &env(T1));
    repo.git(&["add", "deploy.env"]);
    let out = commit(&["-q", "-m", "leak"]);
    let both = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!out.status.success(), "a secret is refused: {both}");
    assert!(
        both.contains("deploy.env:1:14") && both.contains("github-classic-pat"),
        "{both}"
    );
    assert!(!both.contains(T1), "redacted: {both}");
    assert_eq!(repo.rev("HEAD"), head, "no commit was made");

    // `git commit -a` stages in a temporary index the hook is told about (GIT_INDEX_FILE).
    repo.git(&["reset", "-q", "deploy.env"]);
    repo.remove("deploy.env");
    repo.write("README.md", &format!("hello\n{}", env(T2)));
    let out = commit(&["-q", "-a", "-m", "leak through -a"]);
    let both = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!out.status.success(), "commit -a is refused: {both}");
    assert!(both.contains("README.md:2:14"), "{both}");
    assert_eq!(repo.rev("HEAD"), head, "no commit was made");

    // The secret moved out: the commit goes through.
    repo.write("README.md", "hello\nsee the vault\n");
    let out = commit(&["-q", "-a", "-m", "docs"]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_ne!(repo.rev("HEAD"), head);
}

/// Both hooks of the repository's `.pre-commit-hooks.yaml`, as a user gets them: through
/// `pre-commit try-repo` on a repository holding the manifest, with this build as the
/// `capstan` on PATH. A staged secret fails the hook; a clean change passes.
#[test]
fn the_published_hooks_block_a_staged_secret_and_pass_a_clean_change() {
    let hooks = Repo::new("pre-commit-hooks-repo");
    let manifest =
        std::fs::read_to_string(root().join(".pre-commit-hooks.yaml")).expect("the manifest");
    hooks.write(".pre-commit-hooks.yaml", &manifest);
    hooks.commit("hooks");
    let bin = Path::new(env!("CARGO_BIN_EXE_capstan"))
        .parent()
        .expect("the binary's directory")
        .to_owned();
    let path = std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    for hook in ["capstan", "capstan-files"] {
        let repo = Repo::new(&format!("try-repo-{hook}"));
        repo.write("README.md", "hello\n");
        repo.commit("start");
        let try_repo = || {
            let mut cmd = tool("pre-commit");
            repo.isolate(&mut cmd);
            cmd.current_dir(&repo.dir)
                .args(["try-repo", hooks.dir.to_str().expect("utf-8"), hook])
                .env("PATH", &path)
                .env("PRE_COMMIT_HOME", repo.scratch.path("pre-commit-home"))
                .env("XDG_CACHE_HOME", repo.scratch.path("cache"))
                .stdin(Stdio::null())
                .output()
                .expect("pre-commit runs")
        };
        repo.write("notes.md", "nothing secret\n");
        repo.git(&["add", "notes.md"]);
        let out = try_repo();
        let both = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(
            out.status.success(),
            "{hook}: a clean change passes: {both}"
        );
        repo.write("deploy.env", &env(T1));
        repo.git(&["add", "deploy.env"]);
        let out = try_repo();
        let both = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(
            !out.status.success(),
            "{hook}: a staged secret fails: {both}"
        );
        assert!(
            both.contains("deploy.env:1:14") && both.contains("github-classic-pat"),
            "{hook}: {both}"
        );
        assert!(!both.contains(T1), "{hook}: redacted: {both}");
    }
}

#[test]
fn the_repository_s_ignore_file_applies_wherever_capstan_runs_from() {
    let repo = Repo::new("ignore-file");
    repo.write("a.env", &env(T1));
    repo.write("b.env", &env(T2));
    repo.commit("two tokens");
    let first = repo.scan(&repo.dir, &[]);
    let fingerprint = first.at("a.env").fingerprint.clone();
    // Untracked in the work tree, as people keep it: the scan runs from another directory.
    repo.write(".capstanignore", &format!("{fingerprint}\n"));
    let again = repo.scan(&repo.dir, &[]);
    assert_eq!(again.places(), [place("b.env", 1, T2)]);
    assert_eq!(again.stat("suppressed"), 1);
}

#[test]
fn a_secret_that_stays_while_its_file_changes_is_reported_once_where_it_was_added() {
    let repo = Repo::new("versions");
    repo.write("app.env", &format!("{}VERSION=0\n", env(T1)));
    let added = repo.commit("add the token");
    for n in 1..=5 {
        // Every version is a new blob holding the same token on the same line.
        repo.write("app.env", &format!("{}VERSION={n}\n", env(T1)));
        repo.commit(&format!("version {n}"));
    }
    // And once on another line of a later version: still the same secret in the same file.
    repo.write("app.env", &format!("# moved\n{}VERSION=6\n", env(T1)));
    repo.commit("version 6");
    let r = repo.scan(&repo.dir, &[]);
    r.found_cleanly();
    assert_eq!(r.places(), [place("app.env", 1, T1)]);
    assert_eq!(r.findings[0].commit.as_deref(), Some(added.as_str()));
    assert_eq!(r.stat("files"), 7, "seven versions read, one finding");
}
