//! `capstan image`: scan container images from registries, OCI layouts and `docker save`
//! archives, with every report option of `scan`.

use std::process::ExitCode;

use capstan::image::{ImageOptions, Platform};
use capstan::scan::Request;

use crate::scan::{ContentArgs, ReportArgs};

#[derive(Debug, clap::Args)]
pub struct ImageArgs {
    /// Images: a registry reference as docker writes it (`alpine`, `ghcr.io/org/app:1.2`,
    /// `registry:5000/team/app@sha256:…`), an OCI image layout `oci:DIR[:TAG]`, or a
    /// `docker save` archive `docker-archive:FILE`.
    #[arg(value_name = "IMAGE", required = true)]
    images: Vec<String>,
    /// The platform to scan from a multi-platform image [default: this host's, as docker
    /// pulls; the choice is printed].
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", value_parser = parse_platform, help_heading = "Pulling")]
    platform: Option<Platform>,
    /// Layers pulled and scanned at once (per image).
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=256), help_heading = "Pulling")]
    pulls: u16,
    /// Allow plain HTTP to any registry and token server (loopback registries always may).
    #[arg(long, help_heading = "Pulling")]
    insecure: bool,
    #[command(flatten)]
    content: ContentArgs,
    #[command(flatten)]
    report: ReportArgs,
}

fn parse_platform(s: &str) -> Result<Platform, String> {
    s.parse()
}

pub fn image(args: &ImageArgs) -> anyhow::Result<ExitCode> {
    let request = Request::images(args.images.iter().cloned())
        .options(args.content.options(&args.report))
        .image_options(ImageOptions {
            platform: args.platform.clone(),
            pulls: usize::from(args.pulls),
            insecure: args.insecure,
        });
    crate::scan::run(&args.report, &args.report.apply(request), None)
}
