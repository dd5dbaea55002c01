//! ARCHITECTURE.md stays true: its code map names every workspace crate.

mod common;

#[test]
fn code_map_names_every_workspace_crate() {
    let root = common::repo_root();
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let mut crates = 0;
    for entry in std::fs::read_dir(root.join("crates")).unwrap() {
        let dir = entry.unwrap().path();
        let Ok(manifest) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
            continue;
        };
        let name = manifest
            .lines()
            .find_map(|l| l.strip_prefix("name = \""))
            .and_then(|l| l.strip_suffix('"'))
            .unwrap();
        assert!(
            map.contains(&format!("### `{name}`")),
            "ARCHITECTURE.md has no code-map entry for {name}"
        );
        crates += 1;
    }
    assert!(crates >= 3);
}

/// A crate's `[dependencies]` (not dev- or build-), by name.
fn dependencies(name: &str) -> Vec<String> {
    let manifest = std::fs::read_to_string(common::repo_root().join("crates").join(name).join("Cargo.toml")).unwrap();
    let mut deps = Vec::new();
    let mut inside = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == "[dependencies]";
        } else if inside && !line.is_empty() && !line.starts_with('#') {
            let dep = line.split(['=', '.', ' ']).next().unwrap().trim();
            deps.push(dep.to_string());
        }
    }
    deps
}

/// ARCHITECTURE.md's layers: dependencies point down. Each crate may use
/// only the platdns crates of the layers below it, and the layers'
/// forbidden frameworks stay out.
#[test]
fn layers_point_down() {
    const PURE: [&str; 5] = [
        "platdns-zone",
        "platdns-contract",
        "platdns-steering",
        "platdns-dnssec",
        "platdns-billing",
    ];
    let io = ["tokio", "sqlx", "axum", "hyper", "socket2", "libc"];
    for name in PURE {
        for dep in dependencies(name) {
            assert!(!io.contains(&dep.as_str()), "{name} is pure and depends on {dep}");
            assert!(
                !dep.starts_with("platdns-") || PURE.contains(&dep.as_str()),
                "{name} is pure and depends on {dep}"
            );
        }
    }
    // The data plane reads only zones: no store, no control plane, no HTTP.
    for dep in dependencies("platdns-dataplane") {
        assert!(
            !dep.starts_with("platdns-") || dep == "platdns-zone",
            "platdns-dataplane depends on {dep}"
        );
        assert!(
            !["sqlx", "axum", "hyper"].contains(&dep.as_str()),
            "platdns-dataplane depends on {dep}"
        );
    }
    // The control plane has no HTTP framework and no SQL of its own.
    for dep in dependencies("platdns-control") {
        assert!(
            !["axum", "hyper", "sqlx", "utoipa"].contains(&dep.as_str()),
            "platdns-control depends on {dep}"
        );
        assert!(
            dep != "platdns-api" && dep != "platdns",
            "platdns-control depends on {dep}"
        );
    }
    // Only the store speaks SQL; only the HTTP crate and the binary serve HTTP.
    for entry in std::fs::read_dir(common::repo_root().join("crates")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let deps = dependencies(&name);
        if name != "platdns-store" {
            assert!(
                !deps.iter().any(|d| d == "sqlx"),
                "{name} uses sqlx: SQL lives in platdns-store"
            );
        }
        if name != "platdns-api" && name != "platdns" {
            assert!(!deps.iter().any(|d| d == "axum"), "{name} uses axum");
        }
        if name != "platdns" {
            assert!(!deps.iter().any(|d| d == "platdns"), "{name} depends on the binary");
        }
        // Test support is for tests: never a dependency of what ships.
        assert!(
            !deps.iter().any(|d| d == "platdns-testkit"),
            "{name} depends on platdns-testkit outside its dev-dependencies"
        );
    }
    // And it stands beside the crates it tests, not on them.
    for dep in dependencies("platdns-testkit") {
        assert!(!dep.starts_with("platdns"), "platdns-testkit depends on {dep}");
    }
}
