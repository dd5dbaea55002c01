//! The zone files a node serves: load them, reload the ones that changed on
//! SIGHUP, and keep the old version serving when a new one is bad.

use platdns_zone::zonefile::{read_file, ZoneError};
use platdns_zone::{Catalog, Name, Zone};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

/// A zone file and what was last loaded from it.
struct Source {
    path: PathBuf,
    /// (modified time, length) at the last load attempt, to skip unchanged files.
    stamp: Option<(SystemTime, u64)>,
    zone: Option<Arc<Zone>>,
}

#[derive(Default)]
pub struct ZoneFiles {
    sources: Vec<Source>,
}

/// What a (re)load did, for the log.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub loaded: Vec<(PathBuf, Name, u32)>,
    pub failed: Vec<(PathBuf, Vec<ZoneError>)>,
    pub unchanged: usize,
}

/// The origin for a file with no `$ORIGIN` or SOA owner to tell it: its name
/// less a `.zone`/`.db` suffix (`example.com.zone` → `example.com.`).
pub fn origin_from_file_name(path: &Path) -> Option<Name> {
    let stem = path.file_name()?.to_str()?;
    let stem = stem
        .strip_suffix(".zone")
        .or_else(|| stem.strip_suffix(".db"))
        .unwrap_or(stem);
    let stem = stem.strip_suffix('.').unwrap_or(stem);
    Name::from_text(&format!("{stem}."), None).ok()
}

/// Parses and compiles one zone file.
pub fn load_zone(path: &Path, origin: Option<&Name>) -> Result<Zone, Vec<ZoneError>> {
    // An explicit origin is the apex; otherwise the file says (SOA owner,
    // $ORIGIN), and its name is only the starting origin for relative names.
    let fallback = origin_from_file_name(path);
    let parsed = read_file(path, origin.or(fallback.as_ref()));
    Zone::from_parsed(&parsed, origin)
}

impl ZoneFiles {
    /// The files named on the command line plus every `*.zone` file in `dir`.
    pub fn new(files: &[PathBuf], dir: Option<&Path>) -> ZoneFiles {
        let mut paths: Vec<PathBuf> = files.to_vec();
        if let Some(dir) = dir {
            if let Ok(entries) = std::fs::read_dir(dir) {
                let mut found: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "zone"))
                    .collect();
                found.sort();
                paths.extend(found);
            }
        }
        ZoneFiles {
            sources: paths
                .into_iter()
                .map(|path| Source {
                    path,
                    stamp: None,
                    zone: None,
                })
                .collect(),
        }
    }

    /// Re-reads every file whose time or size changed. A file that fails keeps
    /// its previous zone (if any) serving.
    pub fn reload(&mut self) -> LoadReport {
        let mut report = LoadReport::default();
        for s in &mut self.sources {
            let stamp = std::fs::metadata(&s.path)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())));
            if stamp.is_some() && stamp == s.stamp {
                report.unchanged += 1;
                continue;
            }
            s.stamp = stamp;
            match load_zone(&s.path, None) {
                Ok(zone) => {
                    report.loaded.push((s.path.clone(), zone.apex().clone(), zone.serial()));
                    s.zone = Some(Arc::new(zone));
                }
                Err(errors) => report.failed.push((s.path.clone(), errors)),
            }
        }
        release_parse_memory();
        report
    }

    /// A catalog of every zone currently loaded.
    pub fn catalog(&self) -> Catalog {
        let mut c = Catalog::new();
        for z in self.sources.iter().filter_map(|s| s.zone.clone()) {
            c.insert(z);
        }
        c
    }
}

/// Parsing a zone makes many small allocations (one per name and rdata) that
/// are all freed once the compiled zone is built; glibc keeps such freed heap
/// pages mapped. Hand them back, so a node's memory is its zones, not the peak
/// of loading them (a 1M-name zone: ~330 MiB resident before, ~100 after).
fn release_parse_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory at the top and in the
    // middle of glibc's heaps; it touches no live allocation and is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}
