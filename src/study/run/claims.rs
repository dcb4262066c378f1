//! Claims: exclusive creates, leases, stale claims taken over, release.

use super::*;
use crate::study::StudyError;
use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What a claim file says about who made it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClaimInfo {
    pub host: String,
    pub pid: u32,
    /// The process's start time in clock ticks since boot (/proc/PID/stat), to tell a
    /// reused pid from the claimant.
    pub start_ticks: Option<u64>,
    pub claimed_unix: u64,
    pub task: String,
    /// Unique per claim.
    pub nonce: String,
}

/// How a claim attempt ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Claim {
    /// The trial is ours.
    Mine,
    /// Another live task holds it.
    Taken(Option<ClaimInfo>),
}

/// This machine's name (/proc, else $HOSTNAME).
pub fn host_name() -> String {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown-host".into())
    })
    .clone()
}

/// (state, start time in ticks) of process `pid` from /proc, if it exists.
pub(super) fn proc_stat(pid: u32) -> Option<(char, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

pub(super) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Whether a claim is still held: on this host by its process being alive (when /proc can
/// tell), elsewhere by a refresh within `lease`.
pub fn claim_is_live(info: &ClaimInfo, modified: Option<SystemTime>, lease: Duration) -> bool {
    if info.host == host_name() && Path::new("/proc/self/stat").exists() {
        return match proc_stat(info.pid) {
            None => false,
            Some(('Z' | 'X', _)) => false,
            Some((_, ticks)) => info.start_ticks.is_none_or(|t| t == ticks),
        };
    }
    let age = modified.and_then(|m| SystemTime::now().duration_since(m).ok()).unwrap_or(Duration::ZERO);
    age < lease
}

/// The claim at `path` as (what it says, when it was last refreshed), if it exists.
pub(super) fn read_claim(path: &Path) -> Option<(Option<ClaimInfo>, Option<SystemTime>, Vec<u8>)> {
    let bytes = crate::study::store::read_bounded(path, 1 << 20).ok()?;
    let modified = std::fs::metadata(path).ok().and_then(|m| m.modified().ok());
    Some((serde_json::from_slice(&bytes).ok(), modified, bytes))
}

/// Whether the claim at `path` is held by a live task (see the module's rule); a claim
/// that cannot be read is live while younger than 10 s (its maker may be writing it).
pub fn claim_state(path: &Path, lease: Duration) -> Option<(bool, Option<ClaimInfo>)> {
    let (info, modified, _) = read_claim(path)?;
    let live = match &info {
        Some(i) => claim_is_live(i, modified, lease),
        None => {
            let age = modified.and_then(|m| SystemTime::now().duration_since(m).ok()).unwrap_or(Duration::ZERO);
            age < Duration::from_secs(10)
        }
    };
    Some((live, info))
}

/// Claims trial `id` for this process (see the module's rule on stale claims).
pub fn try_claim(sd: &StudyDir, id: usize, me: &ClaimInfo, lease: Duration) -> Result<Claim> {
    let path = sd.claim_path(id);
    let dir = path.parent().expect("claims folder");
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut body = serde_json::to_vec(me).expect("a claim serialises");
    body.push(b'\n');
    for _ in 0..4 {
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                f.write_all(&body)
                    .and_then(|()| f.sync_data())
                    .with_context(|| format!("cannot write {}", path.display()))?;
                return Ok(Claim::Mine);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if let Some(what) = crate::study::store::not_regular(&path) {
                    // no task makes this: it would block the trial forever
                    return Err(anyhow::Error::new(StudyError(format!(
                        "{} is {what}, not a claim file; remove it and run again",
                        path.display()
                    ))));
                }
                let Some((info, modified, seen)) = read_claim(&path) else { continue };
                let live = match &info {
                    Some(i) => claim_is_live(i, modified, lease),
                    None => {
                        let age =
                            modified.and_then(|m| SystemTime::now().duration_since(m).ok()).unwrap_or(Duration::ZERO);
                        age < Duration::from_secs(10)
                    }
                };
                if live {
                    return Ok(Claim::Taken(info));
                }
                // take over: move the stale claim aside under a name of our own
                let aside = dir.join(format!(".{id:08}.stale-{}", me.nonce));
                match std::fs::rename(&path, &aside) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e).with_context(|| format!("cannot move the stale claim {}", path.display())),
                }
                let moved = std::fs::read(&aside).unwrap_or_default();
                if moved != seen {
                    // another task replaced the stale claim in between: put its claim back
                    let _ = std::fs::hard_link(&aside, &path);
                    let _ = std::fs::remove_file(&aside);
                    return Ok(Claim::Taken(serde_json::from_slice(&moved).ok()));
                }
                let _ = std::fs::remove_file(&aside);
            }
            Err(e) => return Err(e).with_context(|| format!("cannot create the claim {}", path.display())),
        }
    }
    Ok(Claim::Taken(None))
}

/// Removes our claim on `id` (only if it is still ours).
pub fn release(sd: &StudyDir, id: usize, me: &ClaimInfo) {
    let path = sd.claim_path(id);
    if let Some((Some(info), _, _)) = read_claim(&path) {
        if info.nonce == me.nonce {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// A claim for this process.
pub fn my_claim(task: &str) -> ClaimInfo {
    let pid = std::process::id();
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    ClaimInfo {
        host: host_name(),
        pid,
        start_ticks: proc_stat(pid).map(|s| s.1),
        claimed_unix: unix_now(),
        task: task.to_string(),
        nonce: format!("{}-{pid}-{nanos}-{n}", host_name().replace(['/', '.'], "_")),
    }
}
