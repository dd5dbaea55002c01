//! `platdns zone check` and `zone print`, run as a user would.
//! Bad files are data: `tests/data/bad/*.zone`, each opening with
//! `; expect: LINE: TEXT`, the line and reason the error must name.

mod common;
use common::*;
use std::process::Command;

fn platdns(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_platdns")).args(args).output().unwrap()
}

#[test]
fn every_valid_test_zone_is_accepted() {
    let dir = test_zones();
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "zone") {
            let out = platdns(&["zone", "check", path.to_str().unwrap()]);
            assert!(
                out.status.success(),
                "{} rejected:\n{}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            n += 1;
        }
    }
    assert!(n >= 3);
}

#[test]
fn each_malformed_file_names_its_line_and_reason() {
    let dir = repo_root().join("tests/data/bad");
    let mut checked = 0;
    let mut paths: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("; expect: "))
            .unwrap_or_else(|| panic!("{} has no expect line", path.display()));
        let (line, reason) = expect.split_once(": ").unwrap();
        let file = path.to_str().unwrap();
        let out = platdns(&["zone", "check", file]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{file} was accepted");
        let wanted = format!("{file}:{line}: {reason}");
        assert!(
            stderr.lines().any(|l| l.starts_with(&wanted)),
            "{file}: wanted a line starting {wanted:?}, got:\n{stderr}"
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} malformed files");
}

#[test]
fn print_is_canonical_and_parses_back_to_the_same_zone() {
    let src = test_zones().join("example.com.zone");
    let out = platdns(&["zone", "print", src.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dir = tempfile::tempdir().unwrap();
    let printed = dir.path().join("printed.zone");
    std::fs::write(&printed, &out.stdout).unwrap();
    let again = platdns(&["zone", "print", printed.to_str().unwrap()]);
    assert!(
        again.status.success(),
        "printed zone rejected: {}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&again.stdout)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    // Every record of the source is there (54 records, 43 names, per `zone check`).
    assert_eq!(text.lines().filter(|l| !l.starts_with('$')).count(), 54);
    assert!(
        text.contains("host.sub.example.com. 3600 IN A 192.0.2.151"),
        "included data printed"
    );
}

#[test]
fn origin_flag_sets_the_apex_of_a_file_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("plain.txt");
    std::fs::write(&f, "@ 300 SOA ns1 host 1 2 3 4 5\n@ 300 NS ns1\nns1 300 A 192.0.2.1\n").unwrap();
    let out = platdns(&["zone", "check", f.to_str().unwrap(), "--origin", "example.org"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("zone example.org."));
}
