//! A DNS node's local copy of what it serves from the store (issue 19), so
//! that a node restarted while the store is away answers at once. One file
//! per zone, `<apex in wire form, hex>.zone`: a header line with the file's
//! format, tags the control plane gives (which zone and contract it is, for
//! the usage meter) and the SHA-256 of the rest, then the zone in RFC 1035
//! text. Each file is written to a temporary name and renamed over the old
//! one, so a crash leaves the old file or the new one, never half of one.
//! A file whose checksum does not match refuses the whole snapshot: a node
//! serves all of its last copy or none of it, never a mix.

use platdns_zone::present::zone_text;
use platdns_zone::zonefile::{parse_str, NoIncludes};
use platdns_zone::{Name, Zone};
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

const MAGIC: &str = "; platdns-snapshot 1";

/// A zone as the snapshot keeps it, with the tags written beside it.
pub struct Kept {
    pub zone: Zone,
    pub tags: Vec<(String, String)>,
}

/// Why a snapshot was refused, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct Refused {
    pub file: PathBuf,
    pub reason: String,
}

fn file_of(dir: &Path, apex: &Name) -> PathBuf {
    let mut name = String::with_capacity(apex.as_wire().len() * 2 + 5);
    for b in apex.to_lowercase().as_wire() {
        let _ = write!(name, "{b:02x}");
    }
    dir.join(name + ".zone")
}

fn sha256_hex(text: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    digest.as_ref().iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Writes `zone` (with `tags`, plain `key=value` words) to `dir`, replacing
/// its earlier copy at once.
pub fn write_zone(dir: &Path, zone: &Zone, tags: &[(&str, String)]) -> io::Result<()> {
    let body = zone_text(zone.apex(), &zone.records());
    let mut head = String::from(MAGIC);
    for (k, v) in tags {
        let _ = write!(head, " {k}={v}");
    }
    let _ = writeln!(head, " sha256={}", sha256_hex(&body));
    std::fs::create_dir_all(dir)?;
    let path = file_of(dir, zone.apex());
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, head + &body)?;
    std::fs::rename(&tmp, &path)
}

/// Removes the copy of the zone at `apex` (no longer served).
pub fn remove_zone(dir: &Path, apex: &Name) -> io::Result<()> {
    match std::fs::remove_file(file_of(dir, apex)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Every zone in `dir` (none when there is no snapshot), or the first
/// reason to refuse it all.
pub fn load(dir: &Path) -> Result<Vec<Kept>, Refused> {
    let refused = |file: &Path, reason: String| Refused {
        file: file.to_path_buf(),
        reason,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(refused(dir, e.to_string())),
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| refused(dir, e.to_string()))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("zone") {
            // A temporary file a crash left: its zone's old copy stands.
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| refused(&path, e.to_string()))?;
        let (head, body) = text
            .split_once('\n')
            .ok_or_else(|| refused(&path, "no header line".into()))?;
        let words = head
            .strip_prefix(MAGIC)
            .ok_or_else(|| refused(&path, "not a platdns snapshot file".into()))?;
        let mut tags = Vec::new();
        let mut sum = None;
        for word in words.split_whitespace() {
            let (k, v) = word
                .split_once('=')
                .ok_or_else(|| refused(&path, format!("bad header word {word:?}")))?;
            match k {
                "sha256" => sum = Some(v.to_string()),
                _ => tags.push((k.to_string(), v.to_string())),
            }
        }
        if sum.as_deref() != Some(sha256_hex(body).as_str()) {
            return Err(refused(&path, "checksum mismatch".into()));
        }
        let parsed = parse_str(body, &path.display().to_string(), None, &mut NoIncludes);
        let zone = Zone::from_parsed(&parsed, None).map_err(|errors| {
            let first = errors.first().map(|e| e.to_string()).unwrap_or_default();
            refused(&path, first)
        })?;
        if file_of(dir, zone.apex()) != path {
            return Err(refused(
                &path,
                format!("holds {}, not the zone its name says", zone.apex()),
            ));
        }
        out.push(Kept { zone, tags });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(apex: &str, address: &str) -> Zone {
        let text = format!(
            "$ORIGIN {apex}\n@ 300 SOA ns. h. 7 2 3 4 5\n@ 300 NS ns.\nwww 300 A {address}\nt 300 TXT \"a b\" \"c\\\"d\"\n"
        );
        let p = parse_str(&text, "t", None, &mut NoIncludes);
        Zone::from_parsed(&p, None).unwrap()
    }

    #[test]
    fn zones_come_back_as_written_and_a_removed_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (zone("example.com.", "192.0.2.1"), zone("example.net.", "192.0.2.2"));
        write_zone(dir.path(), &a, &[("zone", "7".into()), ("contract", "3".into())]).unwrap();
        write_zone(dir.path(), &b, &[]).unwrap();
        // Written again: the new copy replaces the old.
        let a2 = zone("example.com.", "192.0.2.9");
        write_zone(dir.path(), &a2, &[("zone", "7".into())]).unwrap();
        remove_zone(dir.path(), b.apex()).unwrap();
        remove_zone(dir.path(), b.apex()).unwrap();
        let kept = load(dir.path()).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].zone.records(), a2.records());
        assert_eq!(kept[0].tags, [("zone".to_string(), "7".to_string())]);
        assert!(
            load(&dir.path().join("none")).unwrap().is_empty(),
            "no snapshot: nothing"
        );
    }

    #[test]
    fn one_damaged_file_refuses_the_whole_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let a = zone("example.com.", "192.0.2.1");
        write_zone(dir.path(), &a, &[]).unwrap();
        write_zone(dir.path(), &zone("example.net.", "192.0.2.2"), &[]).unwrap();
        let path = file_of(dir.path(), a.apex());
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("192.0.2.1", "192.0.2.66")).unwrap();
        let e = load(dir.path()).err().expect("refused");
        assert_eq!(e.file, path);
        assert_eq!(e.reason, "checksum mismatch");
        // A file cut short too.
        write_zone(dir.path(), &a, &[]).unwrap();
        std::fs::write(&path, &text[..text.len() / 2]).unwrap();
        assert!(load(dir.path()).is_err());
    }
}
