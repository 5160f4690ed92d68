//! `.dockerignore` conformance: patterns × a fixed tree → the files a context would keep,
//! written from moby's patternmatcher semantics (see `capstan::tar::DockerIgnore`).

use std::fmt::Write as _;

use capstan::tar::DockerIgnore;

const TREE: &[&str] = &[
    ".dockerignore",
    "Dockerfile",
    "README.md",
    "a b/c.txt",
    "app.log",
    "build/out/app.bin",
    "build/out/app.log",
    "docs/api/index.md",
    "docs/guide.md",
    "keep.log",
    "main.go",
    "node_modules/lib/README.md",
    "node_modules/lib/index.js",
    "src/main.go",
    "src/util/.env",
    "src/util/helper.go",
    "src/util/helper_test.go",
    "vendor/a.go",
];

/// The files of `TREE` a context keeps under `ignore`.
fn kept(ignore: &str) -> Vec<&'static str> {
    let m = DockerIgnore::parse(ignore).unwrap_or_else(|e| panic!("{ignore:?}: {e}"));
    TREE.iter()
        .copied()
        .filter(|p| !m.is_excluded(p, false))
        .collect()
}

/// `TREE` without `gone`.
fn all_but(gone: &[&str]) -> Vec<&'static str> {
    TREE.iter().copied().filter(|p| !gone.contains(p)).collect()
}

#[test]
fn conformance_table() {
    let cases: &[(&str, Vec<&str>)] = &[
        ("", all_but(&[])),
        ("*.log", all_but(&["app.log", "keep.log"])),
        (
            "**/*.log",
            all_but(&["app.log", "keep.log", "build/out/app.log"]),
        ),
        ("*.log\n!keep.log", all_but(&["app.log"])),
        ("docs", all_but(&["docs/api/index.md", "docs/guide.md"])),
        ("docs\n!docs/api/index.md", all_but(&["docs/guide.md"])),
        ("/src/util/*_test.go", all_but(&["src/util/helper_test.go"])),
        ("src/*/helper.go", all_but(&["src/util/helper.go"])),
        (
            "node_modules/**",
            all_but(&["node_modules/lib/README.md", "node_modules/lib/index.js"]),
        ),
        ("**", vec![]),
        (
            "*\n!src/**\n!Dockerfile",
            vec![
                "Dockerfile",
                "src/main.go",
                "src/util/.env",
                "src/util/helper.go",
                "src/util/helper_test.go",
            ],
        ),
        ("**/.env", all_but(&["src/util/.env"])),
        ("?ain.go", all_but(&["main.go"])),
        ("[A-Z]*.md", all_but(&["README.md"])),
        (
            "[^a-z]*",
            all_but(&[".dockerignore", "Dockerfile", "README.md"]),
        ),
        ("a?b", all_but(&["a b/c.txt"])),
        ("docs/*\\.md", all_but(&["docs/guide.md"])),
        (
            "src\n!src/util\nsrc/util/*_test.go",
            all_but(&["src/main.go", "src/util/helper_test.go"]),
        ),
        ("./docs/../vendor/", all_but(&["vendor/a.go"])),
        (
            "# comment\n  README.md  \n \t\n#main.go\n",
            all_but(&["README.md"]),
        ),
        ("\u{feff}main.go", all_but(&["main.go"])),
        (" # only column 1 starts a comment", all_but(&[])),
        ("!README.md", all_but(&[])),
        (
            "docs/**/*.md",
            all_but(&["docs/api/index.md", "docs/guide.md"]),
        ),
        ("build\n!build/out/app.log", all_but(&["build/out/app.bin"])),
        ("*.log\n!*.log\n*.log", all_but(&["app.log", "keep.log"])),
        (
            "*/*/*",
            all_but(&[
                "build/out/app.bin",
                "build/out/app.log",
                "docs/api/index.md",
                "node_modules/lib/README.md",
                "node_modules/lib/index.js",
                "src/util/.env",
                "src/util/helper.go",
                "src/util/helper_test.go",
            ]),
        ),
        ("main.go/", all_but(&["main.go"])),
        ("src/util/../../main.go", all_but(&["main.go"])),
        (
            "**/util",
            all_but(&[
                "src/util/.env",
                "src/util/helper.go",
                "src/util/helper_test.go",
            ]),
        ),
    ];
    for (ignore, want) in cases {
        assert_eq!(&kept(ignore), want, ".dockerignore {ignore:?}");
    }
}

#[test]
fn walkers_descend_into_excluded_dirs_only_when_an_exception_may_reach_inside() {
    let m =
        DockerIgnore::parse("build\n!build/out/app.log\nnode_modules\n!**/*.go\n").expect("parses");
    assert!(m.may_include_below("build"));
    assert!(m.may_include_below("build/out"));
    assert!(
        !DockerIgnore::parse("build\n!build/out/app.log")
            .expect("parses")
            .may_include_below("docs")
    );
    assert!(
        m.may_include_below("node_modules/lib"),
        "a ** exception reaches anywhere"
    );
    let plain = DockerIgnore::parse("build\n!build/out/app.log").expect("parses");
    assert!(!plain.may_include_below("build/other"));
    // moby copies a class into its regex as it is, so `[^x]` matches `/`: `a/b` is re-included
    // by `!a[^x]b`, and the walker must descend into `a` to find it.
    let class = DockerIgnore::parse("a\n!a[^x]b").expect("parses");
    assert!(!class.is_excluded("a/b", false));
    assert!(class.may_include_below("a"));
    assert!(
        !plain.may_include_below("build/out/app.log"),
        "the exception is the path itself"
    );
}

#[test]
fn many_patterns_over_many_paths() {
    // Sixty patterns (compiled once, at parse), ten thousand paths.
    let mut text = String::new();
    for i in 0..30 {
        writeln!(text, "dir{i}/**/*.tmp\n!dir{i}/keep/**").expect("a String takes it");
    }
    let m = DockerIgnore::parse(&text).expect("parses");
    assert_eq!(m.len(), 60);
    let excluded = (0..10_000)
        .filter(|i| m.is_excluded(&format!("dir{}/x/{i}.tmp", i % 40), false))
        .count();
    assert_eq!(excluded, 7_500, "dirs 0..30 of 40");
}
