//! A structural check of an s6-rc source tree, for where `s6-rc-compile`
//! is not installed (Debian has none): the mistakes it would refuse, and
//! the ones it would let through that break at run time (a `run` that is
//! not executable).

use std::collections::BTreeMap;
use std::path::Path;

/// Every problem found in the source tree at `dir`, one line each; empty
/// when it holds.
pub fn check_source_tree(dir: &Path) -> std::io::Result<Vec<String>> {
    use std::os::unix::fs::PermissionsExt as _;
    let mut problems = Vec::new();
    let mut kinds: BTreeMap<String, String> = BTreeMap::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            let name = e.file_name().to_string_lossy().into_owned();
            let ty = std::fs::read_to_string(e.path().join("type")).unwrap_or_default();
            kinds.insert(name, ty.trim().to_string());
        }
    }
    let read = |svc: &str, f: &str| {
        std::fs::read_to_string(dir.join(svc).join(f))
            .ok()
            .map(|s| s.trim().to_string())
    };
    let list = |svc: &str, d: &str| -> Vec<String> {
        std::fs::read_dir(dir.join(svc).join(d))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut pipelines: BTreeMap<String, String> = BTreeMap::new();
    for (svc, ty) in &kinds {
        match ty.as_str() {
            "longrun" => {
                match std::fs::metadata(dir.join(svc).join("run")) {
                    Ok(m) if m.permissions().mode() & 0o111 != 0 => {}
                    Ok(_) => problems.push(format!("{svc}: run is not executable")),
                    Err(_) => problems.push(format!("{svc}: longrun without run")),
                }
                if let Some(fd) = read(svc, "notification-fd") {
                    if fd.parse::<u32>().map_or(true, |n| n < 3) {
                        problems.push(format!(
                            "{svc}: notification-fd {fd:?} is not a number of 3 or more"
                        ));
                    }
                }
                if let Some(consumer) = read(svc, "producer-for") {
                    if read(&consumer, "consumer-for").as_deref() != Some(svc.as_str()) {
                        problems.push(format!(
                            "{svc}: producer-for {consumer}, which is not consumer-for {svc}"
                        ));
                    }
                }
                if let Some(producer) = read(svc, "consumer-for") {
                    if read(&producer, "producer-for").as_deref() != Some(svc.as_str()) {
                        problems.push(format!(
                            "{svc}: consumer-for {producer}, which is not producer-for {svc}"
                        ));
                    }
                    if let Some(p) = read(svc, "pipeline-name") {
                        if kinds.contains_key(&p) {
                            problems.push(format!("{svc}: pipeline-name {p} is also a service"));
                        }
                        if let Some(other) = pipelines.insert(p.clone(), svc.clone()) {
                            problems
                                .push(format!("{svc}: pipeline-name {p} is also used by {other}"));
                        }
                    }
                }
            }
            "oneshot" => {
                if read(svc, "up").is_none() {
                    problems.push(format!("{svc}: oneshot without up"));
                }
            }
            "bundle" => {
                for c in list(svc, "contents.d") {
                    if !kinds.contains_key(&c)
                        && !pipelines.contains_key(&c)
                        && !c.ends_with("-pipeline")
                    {
                        problems.push(format!("{svc}: contents.d/{c} names nothing"));
                    }
                }
            }
            other => problems.push(format!(
                "{svc}: type {other:?} is not longrun, oneshot or bundle"
            )),
        }
        for d in list(svc, "dependencies.d") {
            if !kinds.contains_key(&d) && !d.ends_with("-pipeline") {
                problems.push(format!("{svc}: dependencies.d/{d} names no service"));
            }
        }
    }
    // Names ending in -pipeline must be real pipelines.
    for (svc, ty) in &kinds {
        let refs: Vec<String> = if ty == "bundle" {
            list(svc, "contents.d")
        } else {
            list(svc, "dependencies.d")
        };
        for c in refs {
            if c.ends_with("-pipeline") && !kinds.contains_key(&c) && !pipelines.contains_key(&c) {
                problems.push(format!("{svc}: {c} names no service or pipeline"));
            }
        }
    }
    problems.sort();
    Ok(problems)
}
