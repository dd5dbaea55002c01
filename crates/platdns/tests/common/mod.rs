//! Helpers for end-to-end tests: start the real `platdns` binary and real
//! `knotd`, and ask both with the real `kdig`.
#![allow(dead_code)]

use serde_json::json;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub fn test_zones() -> PathBuf {
    repo_root().join("tests/data/zones")
}

#[allow(unused_imports)]
pub use platdns_testkit::http::{http, http_with};
#[allow(unused_imports)]
pub use platdns_testkit::require;
#[allow(unused_imports)]
pub use platdns_testkit::tenant::{basic_tenant, commit, tenant, tenant_with_zone, Tenant};

/// A running `platdns serve`, killed on drop.
pub struct Platdns {
    pub child: Child,
    /// Everything the server wrote to stderr so far (drained by a thread, so
    /// the server never blocks on a full pipe).
    pub stderr: std::sync::Arc<std::sync::Mutex<String>>,
    pub dns: SocketAddr,
    pub http: SocketAddr,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

impl Platdns {
    pub fn start(zone_files: &[PathBuf], extra: &[&str]) -> Platdns {
        let tmp = tempfile::tempdir().unwrap();
        let mut p = Platdns::start_in(tmp.path(), zone_files, extra);
        p._tmp = Some(tmp);
        p
    }

    /// Starts on a data dir the caller keeps (to restart on the same data).
    pub fn start_in(data_dir: &Path, zone_files: &[PathBuf], extra: &[&str]) -> Platdns {
        let data_dir = data_dir.to_path_buf();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_platdns"));
        cmd.args([
            "serve",
            "--dns-listen",
            "127.0.0.1:0",
            "--api-listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(&data_dir)
        .args(["--udp-workers", "2"])
        .args(extra);
        for z in zone_files {
            cmd.arg("--zone-file").arg(z);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start platdns");
        let stdout = child.stdout.take().unwrap();
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        // Keep reading stdout for the life of the server, so it never writes
        // into a closed pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
                sink.clear();
            }
        });
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        {
            let (mut err, buf) = (BufReader::new(child.stderr.take().unwrap()), stderr.clone());
            std::thread::spawn(move || {
                let mut line = String::new();
                while err.read_line(&mut line).is_ok_and(|n| n > 0) {
                    buf.lock().unwrap().push_str(&line);
                    line.clear();
                }
            });
        }
        // "platdns serving DNS on ADDR (udp+tcp), HTTP on http://ADDR, ..."
        let words: Vec<&str> = line.split_whitespace().collect();
        if !line.starts_with("platdns serving DNS on") || words.len() < 9 {
            let _ = child.kill();
            let _ = child.wait();
            panic!("unexpected first line from platdns: {line:?}");
        }
        let dns: SocketAddr = words[4].parse().unwrap();
        let http: SocketAddr = words[8]
            .trim_start_matches("http://")
            .trim_end_matches(',')
            .parse()
            .unwrap();
        Platdns {
            child,
            stderr,
            dns,
            http,
            data_dir,
            _tmp: None,
        }
    }

    pub fn signal(&self, sig: &str) {
        Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap();
    }
}

impl Drop for Platdns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port (bound and released; fine for tests on one machine).
pub fn free_port() -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = s.local_addr().unwrap().port();
    // Also free for TCP?
    if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
        return free_port();
    }
    port
}

/// A running `knotd` serving the given (apex, file) zones, killed on drop.
pub struct Knot {
    pub child: Child,
    pub dns: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Knot {
    pub fn start(zones: &[(&str, PathBuf)]) -> Knot {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut conf = format!(
            "server:\n  listen: 127.0.0.1@{port}\n  rundir: {d}\ndatabase:\n  storage: {d}/db\n\
             template:\n  - id: default\n    dnssec-signing: off\n    zonefile-sync: -1\n    zonefile-load: whole\n    journal-content: none\n\
             zone:\n",
            d = dir.path().display()
        );
        for (apex, file) in zones {
            conf += &format!("  - domain: {apex}\n    file: {}\n", file.display());
        }
        let child = spawn_knotd(dir.path(), &conf);
        let dns: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let k = Knot { child, dns, _dir: dir };
        // Wait until every zone answers its SOA.
        let deadline = Instant::now() + Duration::from_secs(20);
        for (apex, _) in zones {
            loop {
                let r = kdig(dns, &[apex, "SOA"]);
                if r.rcode == "NOERROR" && !r.answer.is_empty() {
                    break;
                }
                assert!(Instant::now() < deadline, "knotd did not load {apex}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        k
    }
}

/// Starts `knotd` with `conf` written to `<dir>/knot.conf`; its log goes
/// to `<dir>/knot.log`.
pub fn spawn_knotd(dir: &Path, conf: &str) -> Child {
    let conf_path = dir.join("knot.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let knotd = ["/usr/sbin/knotd", "knotd"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("knotd");
    Command::new(knotd)
        .arg("-c")
        .arg(&conf_path)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("knot.log")).unwrap())
        .spawn()
        .expect("start knotd")
}

impl Drop for Knot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A reply as `kdig` printed it, normalised for comparison: each RR line has
/// single spaces and a lower-cased owner, and each section is sorted (RR order
/// within a section carries no meaning).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reply {
    pub rcode: String,
    pub flags: Vec<String>,
    pub question: Vec<String>,
    pub answer: Vec<String>,
    pub authority: Vec<String>,
    pub additional: Vec<String>,
    pub edns: Option<String>,
    pub raw: String,
}

pub fn kdig(server: SocketAddr, args: &[&str]) -> Reply {
    let out = Command::new("kdig")
        .arg(format!("@{}", server.ip()))
        .args(["-p", &server.port().to_string(), "+norec", "+retry=2", "+timeout=2"])
        .args(args)
        .output()
        .expect("run kdig");
    parse_kdig(&String::from_utf8_lossy(&out.stdout))
}

/// Many questions in one `kdig` run (its command line takes a list of
/// queries, each with its own options after the name): `common` applies to
/// all, each question is `(name, type, extra options)`. Replies come back in
/// order; a reply that does not echo its question (a lost datagram, say)
/// is asked again on its own.
pub fn kdig_many(server: SocketAddr, common: &[&str], questions: &[(String, String, Vec<&str>)]) -> Vec<Reply> {
    let mut out = Vec::with_capacity(questions.len());
    for batch in questions.chunks(200) {
        let mut cmd = Command::new("kdig");
        cmd.arg(format!("@{}", server.ip()))
            .args(["-p", &server.port().to_string(), "+norec", "+retry=2", "+timeout=2"])
            .args(common);
        for (name, rtype, extra) in batch {
            cmd.arg(name).arg(rtype).args(extra);
        }
        let text = String::from_utf8_lossy(&cmd.output().expect("run kdig").stdout).into_owned();
        let mut replies: Vec<Reply> = Vec::new();
        for (i, chunk) in text.split(";; ->>HEADER<<-").enumerate() {
            if i > 0 {
                replies.push(parse_kdig(&format!(";; ->>HEADER<<-{chunk}")));
            }
        }
        for (k, (name, rtype, extra)) in batch.iter().enumerate() {
            let echoed = |r: &Reply| {
                r.question.first().is_some_and(|q| {
                    let w: Vec<&str> = q.split_whitespace().collect();
                    w.len() == 3
                        && w[0]
                            .trim_end_matches('.')
                            .eq_ignore_ascii_case(name.trim_end_matches('.'))
                        && w[2].eq_ignore_ascii_case(rtype)
                })
            };
            match replies.get(k).filter(|r| echoed(r)) {
                Some(r) if replies.len() == batch.len() => out.push(r.clone()),
                _ => {
                    let mut args: Vec<&str> = common.to_vec();
                    args.extend([name.as_str(), rtype.as_str()]);
                    args.extend(extra.iter().copied());
                    out.push(kdig(server, &args));
                }
            }
        }
    }
    out
}

pub fn parse_kdig(text: &str) -> Reply {
    let mut r = Reply {
        raw: text.to_string(),
        ..Reply::default()
    };
    let mut section = "";
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(";; ->>HEADER<<-") {
            r.rcode = rest
                .split("status: ")
                .nth(1)
                .and_then(|s| s.split(';').next())
                .unwrap_or("")
                .to_string();
        } else if let Some(rest) = line.strip_prefix(";; Flags: ") {
            let flags = rest.split(';').next().unwrap_or("");
            r.flags = flags.split_whitespace().map(String::from).collect();
        } else if line.starts_with(";; Version:") {
            // The UDP size each server advertises is its own policy.
            r.edns =
                Some(line.split("; UDP size").next().unwrap_or("").to_string() + line.split("B;").nth(1).unwrap_or(""));
        } else if line.starts_with(";; QUESTION SECTION:") {
            section = "q";
        } else if line.starts_with(";; ANSWER SECTION:") {
            section = "an";
        } else if line.starts_with(";; AUTHORITY SECTION:") {
            section = "ns";
        } else if line.starts_with(";; ADDITIONAL SECTION:") {
            section = "ar";
        } else if line.starts_with(";;") && section == "q" {
            let q = line
                .trim_start_matches(";;")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            r.question.push(q);
        } else if line.trim().is_empty() {
            section = "";
        } else if line.starts_with(";;") {
            continue;
        } else {
            let mut words: Vec<String> = line.split_whitespace().map(String::from).collect();
            if let Some(owner) = words.first_mut() {
                *owner = owner.to_ascii_lowercase();
            }
            let rr = words.join(" ");
            match section {
                "an" => r.answer.push(rr),
                "ns" => r.authority.push(rr),
                "ar" => r.additional.push(rr),
                _ => {}
            }
        }
    }
    r.answer.sort();
    r.authority.sort();
    r.additional.sort();
    r
}

/// DPF `PATCH /zones/{zone}/dnssec` with `enabled`; accepted (202).
pub fn set_dnssec(api: SocketAddr, tok: &str, zone: &str, enabled: i64) {
    let (st, e) = http(
        api,
        "PATCH",
        &format!("/dpf/v1/zones/{zone}/dnssec"),
        Some(tok),
        Some(&json!({ "enabled": enabled }).to_string()),
    );
    assert_eq!(st, 202, "{e}");
}

/// The operator token of a started server.
pub fn operator_token(server: &Platdns) -> String {
    std::fs::read_to_string(server.data_dir.join("operator.token"))
        .unwrap()
        .trim()
        .to_string()
}
