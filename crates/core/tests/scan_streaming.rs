//! Findings don't depend on how the input is chunked, and memory doesn't grow with the input.

#![allow(clippy::format_push_string)] // building test data; clarity over the last nanosecond

use capstan::scan::{Finding, MAX_LINE, MULTILINE_WINDOW, OVERLAP, RuleSet, Rules, Scanner};

const CONFIG: &str = r#"
[[rules]]
id = "token"
regex = '''\b(tok_[a-z0-9]{24})\b'''
keywords = ["tok_"]

[[rules]]
id = "pem"
regex = '''-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]{16,8192}?-----END [A-Z ]*PRIVATE KEY-----'''
keywords = ["-----begin"]

[[rules]]
id = "no-keywords"
regex = '''\bpass=([A-Za-z0-9]{12,})'''

[[rules]]
id = "only-in-yaml"
regex = '''\byamlsecret:\s*(\S{8,})'''
keywords = ["yamlsecret"]
path = '''\.ya?ml$'''
"#;

fn rules() -> Rules {
    Rules::compile(&RuleSet::from_toml(CONFIG).expect("loads")).expect("compiles")
}

/// xorshift64*: a fixed, dependency-free generator so failures replay.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn token(rng: &mut Rng) -> String {
    (0..24)
        .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.below(36)]))
        .collect()
}

/// A corpus with every shape that stresses chunking: planted tokens at line edges, CRLF, a PEM
/// block, keywordless matches, and a line longer than `MAX_LINE` with tokens across its pieces.
fn corpus(rng: &mut Rng) -> Vec<u8> {
    let mut out = String::new();
    for i in 0..400 {
        match rng.below(7) {
            0 => out.push_str(&format!("key = tok_{}\n", token(rng))),
            1 => out.push_str(&format!("tok_{}\r\n", token(rng))),
            2 => out.push_str(&format!("url?pass=Ab{}Z&x=1\n", token(rng))),
            3 => out.push_str("fn main() { println!(\"hello, tok_ world\"); }\n"),
            4 if i % 50 == 4 => out.push_str(&format!(
                "-----BEGIN RSA PRIVATE KEY-----\n{}\n{}\n-----END RSA PRIVATE KEY-----\n",
                token(rng),
                token(rng)
            )),
            _ => out.push_str("lorem ipsum dolor sit amet, consectetur adipiscing elit\n"),
        }
    }
    let mut long = String::with_capacity(MAX_LINE * 3);
    while long.len() < MAX_LINE * 3 {
        long.push_str("x=1;");
        if rng.below(200) == 0 {
            long.push_str(&format!(" tok_{} ", token(rng)));
        }
    }
    out.push_str(&long);
    out.push('\n');
    out.push_str(&format!("last tok_{}", token(rng)));
    out.into_bytes()
}

fn chunked(rules: &Rules, path: &str, data: &[u8], rng: &mut Rng, max: usize) -> Vec<Finding> {
    let mut s = Scanner::new(rules).path(path);
    let mut rest = data;
    while !rest.is_empty() {
        let n = (rng.below(max) + 1).min(rest.len());
        s.feed(&rest[..n]);
        rest = &rest[n..];
    }
    s.finish()
}

#[test]
fn findings_do_not_depend_on_chunk_boundaries() {
    let rules = rules();
    for seed in 1..=6u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let data = corpus(&mut rng);
        let whole = rules.scan_bytes("a.txt", &data);
        assert!(whole.iter().any(|f| f.rule_id == "token"));
        assert!(whole.iter().any(|f| f.rule_id == "no-keywords"));
        for max in [1, 7, 64, 4096, 100_000] {
            let got = chunked(&rules, "a.txt", &data, &mut rng, max);
            assert_eq!(got, whole, "seed {seed}, chunks up to {max} bytes");
        }
    }
}

#[test]
fn positions_are_one_based_bytes_and_multiline_ends_are_right() {
    let rules = rules();
    let text = "a\n  tok_abcdefghijklmnopqrstuvwx\n-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oGMHU3Wcf4wroAoGCCqGSM49\n-----END EC PRIVATE KEY-----\n";
    let f = rules.scan_bytes("k.txt", text.as_bytes());
    let tok = f
        .iter()
        .find(|f| f.rule_id == "token")
        .expect("token found");
    assert_eq!(
        (tok.line, tok.column, tok.end_line, tok.end_column),
        (2, 3, 2, 30)
    );
    let pem = f.iter().find(|f| f.rule_id == "pem").expect("pem found");
    assert_eq!(
        (pem.line, pem.column, pem.end_line, pem.end_column),
        (3, 1, 5, 28)
    );
}

#[test]
fn path_scoped_rules_fire_only_on_their_paths() {
    let rules = rules();
    let text = b"yamlsecret: s3cr3tValu3\n";
    assert_eq!(rules.scan_bytes("deploy/values.yaml", text).len(), 1);
    assert!(rules.scan_bytes("deploy/values.json", text).is_empty());
}

#[test]
fn binary_input_is_skipped_unless_asked() {
    let rules = rules();
    let mut data = b"\x00\x01ELF".to_vec();
    data.extend_from_slice(b"\ntok_abcdefghijklmnopqrstuvwx\n");
    let mut s = Scanner::new(&rules).path("a.bin");
    s.feed(&data);
    assert!(s.finish().is_empty());
    let mut s = Scanner::new(&rules).path("a.bin").binary(true);
    s.feed(&data);
    assert_eq!(s.finish().len(), 1);
}

#[test]
fn a_huge_line_without_newlines_scans_in_bounded_memory() {
    let rules = rules();
    let mut s = Scanner::new(&rules).path("big.min.js");
    let block = vec![b'a'; 1 << 20];
    for _ in 0..64 {
        s.feed(&block);
        assert!(s.buffered() <= MAX_LINE + OVERLAP + MULTILINE_WINDOW + (1 << 20));
    }
    s.feed(b" tok_abcdefghijklmnopqrstuvwx ");
    let f = s.finish();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].line, 1);
    assert_eq!(f[0].column, (64 << 20) + 2);
}

#[test]
fn secrets_are_redacted_unless_asked() {
    let rules = rules();
    let text = b"tok_abcdefghijklmnopqrstuvwx\n";
    let f = rules.scan_bytes("a", text);
    assert_eq!(f[0].secret, "tok_…");
    let mut s = Scanner::new(&rules).redact(false);
    s.feed(text);
    assert_eq!(s.finish()[0].secret, "tok_abcdefghijklmnopqrstuvwx");
}

#[test]
fn inline_allow_markers_suppress_only_their_line() {
    let rules = rules();
    let text = b"tok_abcdefghijklmnopqrstuvwx # capstan:allow\n\
tok_bbcdefghijklmnopqrstuvwx // gitleaks:allow\n\
tok_cbcdefghijklmnopqrstuvwx\n";
    let f = rules.scan_bytes("a", text);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].line, 3);
}
