//! Support shared by the tests of every crate (a dev-dependency only).
//!
//! `require` is how a test says it runs a real program (`kdig`, `knotd`,
//! `delv`, ...): the program's Debian package comes from `.ci/test-tools`,
//! the one table that `.ci/install-test-tools` (run by the README's test
//! command and by `.ci/run`) installs from, so a test's message and the
//! install step can never name different packages.
//!
//! Besides: [`dns`], queries built and replies read on the wire; [`Rng`], a
//! seeded random sequence; [`http`], a blocking HTTP/1.1 client; [`tenant`],
//! a tenant set up through the operator API; [`tls`], a CA of the test's own
//! and an HTTP server behind TLS (or not) that a test steers.

pub mod dns;
pub mod http;
pub mod rng;
pub mod tenant;
pub mod tls;

pub use rng::Rng;

use std::path::Path;
use std::process::{Command, Stdio};

/// `.ci/test-tools`: one `TOOL PACKAGE` line per program a test runs.
const TEST_TOOLS: &str = include_str!("../../../.ci/test-tools");

/// The Debian package that ships `tool`, as `.ci/test-tools` lists it.
pub fn package_of(tool: &str) -> Option<&'static str> {
    TEST_TOOLS
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            Some((words.next()?, words.next()?))
        })
        .find(|(t, _)| *t == tool)
        .map(|(_, p)| p)
}

/// Is `tool` installed (on PATH, or in `/usr/sbin` where Debian puts
/// `knotd`)? A test that needs it fails loudly without it, naming the
/// package, unless `PLATDNS_SKIP_EXTERNAL=1` says this machine cannot have
/// it.
///
/// # Panics
/// When `tool` is missing and skipping was not asked for, or when a test
/// names a tool `.ci/test-tools` does not list (the install step would
/// not install it).
pub fn require(tool: &str) -> bool {
    let package = package_of(tool)
        .unwrap_or_else(|| panic!("{tool} is not listed in .ci/test-tools: add it with its Debian package"));
    let found = Path::new("/usr/sbin").join(tool).exists()
        || Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if !found && std::env::var("PLATDNS_SKIP_EXTERNAL").as_deref() != Ok("1") {
        panic!(
            "{tool} is not installed (apt-get install {package}, or run .ci/install-test-tools); \
             set PLATDNS_SKIP_EXTERNAL=1 to skip"
        );
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_names_its_debian_package() {
        assert_eq!(package_of("delv"), Some("bind9-dnsutils"));
        assert_eq!(package_of("kdig"), Some("knot-dnsutils"));
        assert_eq!(package_of("dnssec-verify"), Some("bind9-utils"));
        assert_eq!(package_of("kzonecheck"), Some("knot-dnssecutils"));
        assert_eq!(package_of("no-such-tool"), None);
    }

    #[test]
    #[should_panic(expected = "not listed in .ci/test-tools")]
    fn an_unlisted_tool_is_a_test_bug() {
        require("no-such-tool");
    }
}
