//! "Looks like a placeholder, a reference or an identifier": the check a rule opts into with
//! `skipPlaceholders = true`, run on a candidate's secret after its regex, entropy and checksum.
//!
//! Documentation and tests assign strings that have a secret's shape but not its content:
//! placeholders (`xxx`, `<token>`, `changeme`, `your_api_key`, `9cbaf023786cd7...`), runs of
//! repeated or sequential characters (`aaaaaaaa`, `12345678`, `abcdefgh`), references to a value
//! kept elsewhere (`${VAR}`, `{{ var }}`, `$(cat file)`, `os.getenv("X")`, `process.env.X`),
//! identifiers and code (`self.password`, `StringField(1)`, `list[V1LocalObjectReference]`,
//! `roles/iam.serviceAccountTokenCreator`) and well-known example keys (AWS's
//! `AKIAIOSFODNN7EXAMPLE`). The check is a handful of byte scans, no regex: it runs only on
//! candidates, which are rare.

/// Substrings (ASCII case-insensitive) that mark a value as a placeholder or an example.
///
/// Each is five or more letters, or holds a byte no base64 or hex token has: a random token of
/// 2,000 characters holds a given five-letter word about once in 14,000 (`xxx` was once here, and
/// a private key's body held it about once in twenty; a run of `x` is now [`x_run`]'s).
const WORDS: &[&[u8]] = &[
    b"example",
    b"changeme",
    b"change_me",
    b"change-me",
    b"dummy",
    b"placeholder",
    b"your_",
    b"your-",
    b"yourkey",
    b"yourtoken",
    b"yoursecret",
    b"yourpass",
    b"yourapi",
    b"redacted",
    b"replace_me",
    b"replaceme",
    b"replace-me",
    b"insert_",
    b"insert-",
    b"sample",
    b"lorem",
    b"foobar",
    b"...",
    "\u{2026}".as_bytes(), // …
    b"****",
];

/// Example credentials printed in specifications, copied into docstrings and tests everywhere
/// (exact values): OAuth 2.0's (RFC 6749: access token, refresh token, authorization code) and
/// OAuth 1.0's (RFC 5849: consumer key and secret, token and token secret). AWS's documentation
/// keys contain `EXAMPLE` and are caught by [`WORDS`].
const KNOWN_EXAMPLES: &[&[u8]] = &[
    b"2YotnFZFEjr1zCsicMWpAA",
    b"tGzv3JOkF0XG5Qx2TlKWIA",
    b"SplxlOBeZQQYbYS6WxSbIA",
    b"dpf43f3p2l4k3l03",
    b"kd94hf93k423kf44",
    b"nnch734d00sl2jdk",
    b"pfkkdhi9sl3r4s00",
];

/// Substrings (ASCII case-insensitive) that mark a value as a reference to one kept elsewhere.
const REFERENCES: &[&[u8]] = &[
    b"${",
    b"{{",
    b"$(",
    b"process.env",
    b"os.getenv",
    b"os.environ",
    b"getenv(",
    b"env[",
    b"environ[",
    b"secrets.",
    b"vault(",
];

/// Whether `secret` looks like a placeholder, a reference to a value kept elsewhere, an
/// identifier or code, or a well-known example key, rather than a credential.
pub(crate) fn looks_like_placeholder(secret: &[u8]) -> bool {
    let s = trim(secret);
    if s.is_empty() {
        return true;
    }
    KNOWN_EXAMPLES.contains(&s)
        || contains_any(s, WORDS)
        || x_run(s)
        || contains_any(s, REFERENCES)
        || is_variable(s)
        || is_bracketed(s)
        || repeats(s)
        || is_sequential(s)
        || is_call(s)
        || is_type_expression(s)
        || is_identifier_path(s)
}

/// The value without surrounding quotes, spaces and a trailing `;` or `,`.
fn trim(s: &[u8]) -> &[u8] {
    let mut s = s.trim_ascii();
    while let [b'"' | b'\'' | b'`' | b';' | b',', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b'"' | b'\'' | b'`' | b';' | b','] = s {
        s = rest;
    }
    s
}

fn contains_any(s: &[u8], words: &[&[u8]]) -> bool {
    words
        .iter()
        .any(|w| s.len() >= w.len() && s.windows(w.len()).any(|x| x.eq_ignore_ascii_case(w)))
}

/// `sk_live_xxxxxxxx`, `XXXX-XXXX`, `key-xXx-2291`: a word of its own (between the value's ends
/// or bytes that are not letters or digits) made of `x`, four or more, or three in a value of up
/// to 16 bytes. Inside a random token `xxx` is common; standing alone it is a placeholder, but a
/// base64 token's `+` and `/` let three stand alone about once in a million characters, four
/// about once in a billion.
fn x_run(s: &[u8]) -> bool {
    let least = if s.len() <= 16 { 3 } else { 4 };
    s.split(|b| !b.is_ascii_alphanumeric())
        .any(|w| w.len() >= least && w.iter().all(|&b| b == b'x' || b == b'X'))
}

fn ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `$VAR`, `$env:VAR`, `%VAR%`, `@VAR@`: a shell, PowerShell, batch or autoconf variable.
fn is_variable(s: &[u8]) -> bool {
    match s {
        [b'$', rest @ ..] => {
            let rest = rest.strip_prefix(b"env:").unwrap_or(rest);
            rest.first().is_some_and(|&b| ident_start(b))
                && rest
                    .iter()
                    .all(|&b| ident_byte(b) || b == b'.' || b == b'[' || b == b']')
        }
        [b'%' | b'@', mid @ .., last] if *last == s[0] => {
            !mid.is_empty() && mid.iter().all(|&b| ident_byte(b))
        }
        _ => false,
    }
}

/// `<token>`, `[secret]`, `{.credential.access_token}`: a name or a template in brackets.
fn is_bracketed(s: &[u8]) -> bool {
    matches!(
        (s.first(), s.last()),
        (Some(b'<'), Some(b'>')) | (Some(b'['), Some(b']')) | (Some(b'{'), Some(b'}'))
    )
}

/// One character over and over (`aaaaaaaa`, `AKIAXXXXXXXXXXXXXXXX`): a run of four or more of
/// one character that is half the value or more (real formats have runs too: a Twitter bearer
/// token starts with 22 `A`s of 110), or at most three distinct characters in eight or more.
fn repeats(s: &[u8]) -> bool {
    let mut run = 1;
    for w in s.windows(2) {
        run = if w[0] == w[1] { run + 1 } else { 1 };
        if run >= 4 && run * 2 >= s.len() {
            return true;
        }
    }
    if s.len() >= 8 {
        let mut seen = [false; 256];
        let mut distinct = 0;
        for &b in s {
            if !seen[b as usize] {
                seen[b as usize] = true;
                distinct += 1;
            }
        }
        return distinct <= 3;
    }
    false
}

/// Keyboard-free ways to fill a field: ascending or descending runs of four or more letters or
/// digits that cover two thirds of the value (`12345678`, `abcdef`, `abcd1234`, `ZYXWVU98`). A run alone, or
/// half the value, is not enough: a random 16-character hex token holds a run of five about one
/// time in 2,700, and two runs of four now and then (`D87652FDDF11234E`).
fn is_sequential(s: &[u8]) -> bool {
    let step = |a: u8, b: u8| -> i16 {
        let same_kind = (a.is_ascii_digit() && b.is_ascii_digit())
            || (a.is_ascii_lowercase() && b.is_ascii_lowercase())
            || (a.is_ascii_uppercase() && b.is_ascii_uppercase());
        if same_kind {
            i16::from(b) - i16::from(a)
        } else {
            0
        }
    };
    let mut covered = 0;
    let mut run = 1;
    let mut dir = 0;
    let mut flush = |run: usize| {
        if run >= 4 {
            covered += run;
        }
    };
    for w in s.windows(2) {
        let d = step(w[0], w[1]);
        if (d == 1 || d == -1) && (run == 1 || d == dir) {
            run += 1;
            dir = d;
        } else {
            flush(run);
            run = if d == 1 || d == -1 { 2 } else { 1 };
            dir = d;
        }
    }
    flush(run);
    covered * 3 >= s.len() * 2
}

/// `StringField(1)`, `get_password(path)`, `vault.read("x")`: a function call.
fn is_call(s: &[u8]) -> bool {
    let Some(open) = s.iter().position(|&b| b == b'(') else {
        return false;
    };
    let callee = &s[..open];
    s.last() == Some(&b')')
        && callee.first().is_some_and(|&b| ident_start(b))
        && callee
            .iter()
            .all(|&b| ident_byte(b) || b == b'.' || b == b':')
}

/// `list[V1LocalObjectReference]`, `Option<String>`, `dict(str, int)`: a type expression.
fn is_type_expression(s: &[u8]) -> bool {
    let Some(open) = s.iter().position(|&b| b == b'[' || b == b'<') else {
        return false;
    };
    let close = if s[open] == b'[' { b']' } else { b'>' };
    let head = &s[..open];
    s.last() == Some(&close)
        && head.first().is_some_and(|&b| ident_start(b))
        && head.iter().all(|&b| ident_byte(b) || b == b'.')
        && s[open..]
            .iter()
            .all(|&b| ident_byte(b) || matches!(b, b'[' | b']' | b'<' | b'>' | b',' | b' ' | b'.'))
}

/// Names, not values: dotted or slashed paths of identifiers (`self.password`,
/// `roles/iam.serviceAccountTokenCreator`, `settings.DB_PASSWORD`) and words in `camelCase` or
/// `snake_case` (`serviceAccountToken`, `ACCESS_TOKEN`) that [`reads_as_words`], with at most
/// two digits (`X-Aws-Ec2-Metadata`, `V1ServiceAccountTokenProjection`), and `self.`, `this.` or
/// `cls.` attributes.
fn is_identifier_path(s: &[u8]) -> bool {
    if let Some(attribute) = [&b"self."[..], b"this.", b"cls."]
        .iter()
        .find_map(|p| s.strip_prefix(*p))
    {
        return attribute.iter().all(|&b| ident_byte(b) || b == b'.');
    }
    if !s.first().is_some_and(|&b| ident_start(b))
        || !s
            .iter()
            .all(|&b| ident_byte(b) || matches!(b, b'.' | b'/' | b'-' | b':' | b'#'))
    {
        return false;
    }
    let letters: Vec<u8> = s.iter().copied().filter(|b| !b.is_ascii_digit()).collect();
    s.iter().filter(|b| b.is_ascii_digit()).count() <= 2
        && words_in_case(&letters)
        && reads_as_words(s)
}

/// Words of names in code and configuration, lowercase and sorted: what an identifier is
/// made of (`serviceAccountTokenCreator`, `DATABASE_PASSWORD`, `X-Aws-Ec2-Metadata-Token`).
const VOCABULARY: &[&str] = &[
    "access",
    "account",
    "active",
    "admin",
    "agent",
    "algorithm",
    "allow",
    "apikey",
    "app",
    "application",
    "auth",
    "authentication",
    "authorization",
    "base",
    "basic",
    "bearer",
    "binding",
    "bucket",
    "cache",
    "cert",
    "certificate",
    "client",
    "cloud",
    "cluster",
    "code",
    "config",
    "configuration",
    "connection",
    "consumer",
    "container",
    "content",
    "context",
    "cookie",
    "create",
    "creator",
    "credential",
    "credentials",
    "current",
    "data",
    "database",
    "default",
    "delete",
    "deploy",
    "deployment",
    "description",
    "digest",
    "docker",
    "domain",
    "encrypted",
    "endpoint",
    "engine",
    "environment",
    "error",
    "event",
    "expiration",
    "expires",
    "expiry",
    "field",
    "file",
    "form",
    "function",
    "generate",
    "get",
    "github",
    "google",
    "group",
    "handler",
    "hash",
    "header",
    "host",
    "http",
    "https",
    "identity",
    "image",
    "index",
    "info",
    "input",
    "instance",
    "issuer",
    "item",
    "json",
    "kube",
    "label",
    "length",
    "list",
    "load",
    "local",
    "login",
    "manager",
    "master",
    "message",
    "metadata",
    "method",
    "mode",
    "model",
    "name",
    "namespace",
    "node",
    "oauth",
    "object",
    "option",
    "options",
    "output",
    "owner",
    "pass",
    "passphrase",
    "password",
    "path",
    "payload",
    "permission",
    "plain",
    "policy",
    "port",
    "private",
    "profile",
    "project",
    "projection",
    "provider",
    "proxy",
    "public",
    "read",
    "reference",
    "refresh",
    "region",
    "registry",
    "remote",
    "request",
    "required",
    "reset",
    "resource",
    "response",
    "result",
    "review",
    "role",
    "roles",
    "root",
    "rotate",
    "schema",
    "scope",
    "seconds",
    "secret",
    "secrets",
    "security",
    "server",
    "service",
    "session",
    "setting",
    "settings",
    "signature",
    "signing",
    "source",
    "spec",
    "status",
    "storage",
    "store",
    "string",
    "system",
    "target",
    "template",
    "tenant",
    "test",
    "text",
    "time",
    "timeout",
    "token",
    "tokens",
    "type",
    "update",
    "upload",
    "user",
    "username",
    "valid",
    "value",
    "vault",
    "verify",
    "version",
    "volume",
    "webhook",
    "write",
];

/// Whether `s` splits into two or more words, half of whose letters are in [`VOCABULARY`]:
/// split at bytes other than letters and digits and at case changes (`serviceAccountToken`,
/// `HTTPBasicAuth`, `X-Aws-Ec2-Metadata`), words of three letters or fewer (`Aws`, `Ec2`, `V1`)
/// counting neither way. Random tokens split into fragments (`Aazk`, `Ody9O`, `Ozfqn`) that are
/// not words, and one word alone (`AKIAPHSGDKKCUHQXABSY`, an AWS key id without a digit) is a
/// token, not a name.
fn reads_as_words(s: &[u8]) -> bool {
    let (mut words, mut known, mut letters) = (0, 0, 0);
    let mut lower = [0u8; 32];
    for part in s.split(|b| !b.is_ascii_alphanumeric()) {
        let mut start = 0;
        for i in 1..=part.len() {
            let boundary = i == part.len()
                || (part[i].is_ascii_uppercase()
                    && (part[i - 1].is_ascii_lowercase()
                        || part.get(i + 1).is_some_and(u8::is_ascii_lowercase)));
            if !boundary || i == start {
                continue;
            }
            let word = &part[start..i];
            start = i;
            words += 1;
            let n = word.iter().filter(|b| b.is_ascii_alphabetic()).count();
            if n <= 3 {
                continue;
            }
            letters += n;
            if word.len() <= lower.len() {
                let w = &mut lower[..word.len()];
                w.copy_from_slice(word);
                w.make_ascii_lowercase();
                if std::str::from_utf8(w).is_ok_and(|w| VOCABULARY.binary_search(&w).is_ok()) {
                    known += n;
                }
            }
        }
    }
    words >= 2 && known > 0 && known * 2 >= letters
}

/// Whether mixed case reads as words (`serviceAccountTokenCreator`, `HTTPHeader`,
/// `DATABASE_PASSWORD`) rather than random case (`qWeRtYzXcV`): no capital is followed by exactly
/// one lowercase letter and then another capital, which random mixed case has everywhere.
fn words_in_case(s: &[u8]) -> bool {
    !s.windows(3).any(|w| {
        w[0].is_ascii_uppercase() && w[1].is_ascii_lowercase() && w[2].is_ascii_uppercase()
    })
}

#[cfg(test)]
mod tests {
    use super::looks_like_placeholder as p;

    #[test]
    fn a_token_in_one_case_without_digits_is_not_a_name() {
        assert!(!p(b"AKIAPHSGDKKCUHQXABSY"), "an AWS key id with no digit");
        assert!(!p(b"QWERTPOIUYLKJHGFMNBV"));
        assert!(p(b"DATABASE_PASSWORD") && p(b"serviceAccountTokenCreator"));
    }

    #[test]
    fn placeholders_and_examples() {
        for s in [
            "xxxxxxxxxxxxxxxx",
            "XXXX-XXXX-XXXX",
            "sk_live_xxx",
            "key-xXx-2291",
            "<token>",
            "<your-api-key>",
            "[secret]",
            "changeme",
            "changeme-in-production-2024",
            "example-token-8f3k29dk3j",
            "dummy-client-secret-9x8y7z",
            "your_api_key_here",
            "9cbaf023786cd7...",
            "eyJhbGciOi\u{2026}",
            "aaaaaaaaaaaa",
            "12345678",
            "abcdefgh",
            "abcd1234",
            "ZYXWVU98",
            "ababababab",
            "****************",
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "\"quoted-placeholder\"",
            "2YotnFZFEjr1zCsicMWpAA",
            "kd94hf93k423kf44",
        ] {
            assert!(p(s.as_bytes()), "{s}");
        }
    }

    #[test]
    fn references_and_calls() {
        for s in [
            "${DB_PASSWORD}",
            "{{ api_key }}",
            "{{api_key}}",
            "$GITHUB_TOKEN",
            "$env:API_TOKEN",
            "%API_TOKEN%",
            "@SECRET_KEY@",
            "$(cat /run/secrets/db)",
            "os.getenv(\"API_TOKEN\")",
            "process.env.API_TOKEN",
            "StringField(1)",
            "get_password_from_vault(path)",
            "secrets.GITHUB_TOKEN",
            "{.credential.access_token}",
        ] {
            assert!(p(s.as_bytes()), "{s}");
        }
    }

    #[test]
    fn identifiers_and_type_names() {
        for s in [
            "list[V1LocalObjectReference]",
            "Option<SecretString>",
            "roles/iam.serviceAccountTokenCreator",
            "self.password",
            "self._password2",
            "this.apiKey",
            "settings.DATABASE_PASSWORD",
            "serviceAccountTokenCreator",
            "HTTPBasicAuthPassword",
            "ACCESS_TOKEN_SECRET",
            "oauth-refresh-token",
            "refresh-token-value",
            "V1ServiceAccountTokenProjection",
            "X-Aws-Ec2-Metadata-Token-Ttl-Seconds",
            "smithy.api#httpApiKeyAuth",
        ] {
            assert!(p(s.as_bytes()), "{s}");
        }
    }

    /// Real formats are never dropped: random tokens of the alphabets and lengths credentials
    /// come in (hex, base32, base62, base64 and base64url; 16 characters to a private key's
    /// body), a million characters of each alphabet, none taken for a placeholder. A seeded
    /// generator keeps the test deterministic; a check that drops one token in 10,000 of some
    /// shape fails it.
    #[test]
    fn random_tokens_of_every_alphabet_and_length_are_not_placeholders() {
        const ALPHABETS: [&[u8]; 8] = [
            b"0123456789abcdef",
            b"0123456789ABCDEF",
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
            b"abcdefghijklmnopqrstuvwxyz0123456789",
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
        ];
        const LENGTHS: [usize; 9] = [16, 20, 24, 32, 40, 64, 100, 400, 1600];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut token = Vec::new();
        for alphabet in ALPHABETS {
            for len in LENGTHS {
                for _ in 0..(1_000_000 / LENGTHS.len() / len) {
                    token.clear();
                    token.extend((0..len).map(|_| {
                        let i = usize::try_from(next() % alphabet.len() as u64).unwrap_or(0);
                        alphabet[i]
                    }));
                    assert!(!p(&token), "{}", String::from_utf8_lossy(&token));
                }
            }
        }
    }

    #[test]
    fn real_looking_secrets_are_not_placeholders() {
        for s in [
            "M26fnKjkVbS9vumGSQ",
            "0edT07cpIl3D0kzPf56QxRSWbFdYKrvL",
            "95791100f95a9767d75c0ff299a2b8ef",
            "HaHIzmwzh0C+JSFmXzrs19KfZNBxGOfw+mCaAhRX",
            "1TbTPeDoXHCZLHR4t8az6UoQ",
            "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",
            "AKIALUR3GTATKZNMS7YT",
            "yq+V1pOnkU3+dcuol2e6W25ill7JvigNuKb5WLv9",
            "qWeRtYzXcVbNmAsDfGhJ",
            "xoxb-2291848304-1093843091847-Hk3nLq0aP9zXw2vR7tYcUe4s",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlX2J5dGVz",
            "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",
            "sq0atp-wGyrr0Z_oPqL6PtunuSQMK",
            "AAAAAAAAAAAAAAAAAAAAAA5LUMRuzoORInXPenVa5L%3DYdrUBjM269JfA3vFuZfXHXZv5Jaickth6BxiA0hUdWDXpZ0oKo5geBHs38pE",
            "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
            "k9Qz4/xxx+Tr7Lm2Wp8Vb3Nc6Hd1Gf5Js0Ya",
        ] {
            assert!(!p(s.as_bytes()), "{s}");
        }
    }
}
