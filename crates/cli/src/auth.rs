//! `capstan auth`: which credentials a registry gets, and from where.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use capstan::auth::{ImageRef, Resolver};

#[derive(Debug, clap::Args)]
pub struct AuthArgs {
    /// An image reference: `alpine`, `ghcr.io/org/app:1`, `localhost:5000/x@sha256:…`.
    #[arg(value_name = "IMAGE")]
    image: String,
    /// Print `{"registry", "source", "username", "kind"}` as JSON.
    #[arg(long, conflicts_with = "header")]
    json: bool,
    /// Print only the `X-Registry-Auth` header value (it carries the secret: for piping into
    /// a docker API call).
    #[arg(long)]
    header: bool,
    /// With --json, include the secret.
    #[arg(long, requires = "json")]
    show_secret: bool,
    /// Ask the registry: `GET /v2/` with the credentials (following a Bearer challenge to
    /// its token server). Exit 0 when accepted, 1 when denied.
    #[arg(long, conflicts_with_all = ["json", "header"])]
    check: bool,
    /// Allow plain HTTP to a registry that is not on loopback (--check).
    #[arg(long, requires = "check")]
    insecure: bool,
    /// Read only this auth file (podman's `--authfile`) instead of the usual locations.
    #[arg(long, value_name = "FILE")]
    authfile: Option<PathBuf>,
}

pub fn auth(args: &AuthArgs) -> anyhow::Result<ExitCode> {
    let image: ImageRef = args.image.parse()?;
    let resolver = match &args.authfile {
        Some(f) => Resolver::with_file(f),
        None => Resolver::from_env(),
    };
    let got = resolver.resolve(&image)?;
    let mut out = io::stdout().lock();
    if args.check {
        let verdict = capstan::auth::check(&image, &got.credentials, args.insecure)?;
        let ok = verdict == capstan::auth::Check::Ok;
        writeln!(
            out,
            "{}: {} ({} credentials from {})",
            got.registry,
            if ok { "OK" } else { "denied" },
            got.credentials.kind(),
            got.source
        )?;
        out.flush()?;
        return Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    if args.header {
        writeln!(
            out,
            "{}",
            got.credentials.registry_auth_header(image.credential_key())
        )?;
    } else if args.json {
        let mut v = serde_json::json!({
            "registry": got.registry,
            "source": got.source.to_string(),
            "username": got.credentials.username(),
            "kind": got.credentials.kind(),
        });
        if args.show_secret {
            v["secret"] = got
                .credentials
                .secret()
                .map(|s| s.expose().to_owned())
                .into();
        }
        writeln!(out, "{v}")?;
    } else {
        writeln!(
            out,
            "{}  {}  {}{}",
            got.registry,
            got.credentials.kind(),
            got.source,
            got.credentials
                .username()
                .map(|u| format!("  user {u}"))
                .unwrap_or_default()
        )?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
