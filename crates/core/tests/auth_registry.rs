//! The bearer-token flow against a small registry + token server started on loopback.

#![cfg(feature = "registry")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use capstan::auth::{Check, CheckErrorKind, Credentials, ImageRef, Secret, check};

/// Serves `/v2/` (Bearer only) and `/token` (Basic `alice:s3cret`, or refresh token
/// `id-tok`) until the test ends; counts token requests.
fn serve() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let tokens = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&tokens);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let mut auth = String::new();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if lower.starts_with("authorization:") {
                    line["authorization:".len()..].trim().clone_into(&mut auth);
                } else if lower.starts_with("content-length:") {
                    length = line["content-length:".len()..].trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; length];
            let _ = reader.read_exact(&mut body);
            let body = String::from_utf8_lossy(&body);
            let path = request.split_whitespace().nth(1).unwrap_or("");
            let (status, headers, payload) = if path == "/v2/" {
                if auth == "Bearer good-token" {
                    ("200 OK", String::new(), "{}".to_owned())
                } else {
                    (
                        "401 Unauthorized",
                        format!(
                            "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"test-registry\",scope=\"registry:catalog:*\"\r\n"
                        ),
                        "{}".to_owned(),
                    )
                }
            } else if path.starts_with("/token") {
                counter.fetch_add(1, Ordering::SeqCst);
                let basic_ok = auth == "Basic YWxpY2U6czNjcmV0"
                    && path.contains("service=test-registry")
                    && (path.contains("scope=registry%3Acatalog%3A*")
                        || path.contains("scope=registry%3Acatalog%3A%2A"));
                let refresh_ok = body.contains("refresh_token=id-tok");
                if basic_ok || refresh_ok {
                    (
                        "200 OK",
                        String::new(),
                        r#"{"token":"good-token","expires_in":300}"#.to_owned(),
                    )
                } else {
                    ("401 Unauthorized", String::new(), "{}".to_owned())
                }
            } else {
                ("404 Not Found", String::new(), String::new())
            };
            let mut s = stream;
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
                payload.len()
            );
        }
    });
    (port, tokens)
}

#[test]
fn bearer_challenges_are_followed_and_tokens_cached_until_they_expire() {
    let (port, tokens) = serve();
    let image: ImageRef = format!("127.0.0.1:{port}/team/app")
        .parse()
        .expect("reference");
    let alice = Credentials::Basic {
        username: "alice".into(),
        password: Secret::new("s3cret"),
    };
    assert_eq!(check(&image, &alice, false).expect("checks"), Check::Ok);
    assert_eq!(tokens.load(Ordering::SeqCst), 1);
    assert_eq!(check(&image, &alice, false).expect("checks"), Check::Ok);
    assert_eq!(
        tokens.load(Ordering::SeqCst),
        1,
        "the token is reused until expires_in"
    );

    let wrong = Credentials::Basic {
        username: "alice".into(),
        password: Secret::new("nope"),
    };
    assert_eq!(check(&image, &wrong, false).expect("checks"), Check::Denied);
    let refresh = Credentials::IdentityToken(Secret::new("id-tok"));
    assert_eq!(check(&image, &refresh, false).expect("checks"), Check::Ok);
    assert_eq!(
        check(&image, &Credentials::Anonymous, false).expect("checks"),
        Check::Denied
    );
}

#[test]
fn an_unreachable_registry_is_a_network_error_naming_it() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let image: ImageRef = format!("127.0.0.1:{port}/team/app")
        .parse()
        .expect("reference");
    let err = check(&image, &Credentials::Anonymous, false).expect_err("nothing listens");
    assert_eq!(err.kind(), CheckErrorKind::Network, "{err}");
    assert_eq!(err.registry(), format!("127.0.0.1:{port}"));
    assert!(
        err.to_string().starts_with(&format!(
            "127.0.0.1:{port}: GET http://127.0.0.1:{port}/v2/: "
        )),
        "{err}"
    );
}
