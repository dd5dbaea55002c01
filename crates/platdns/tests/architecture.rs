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
