//! The optional state file ([`Config::state_file`]): keeps the threadId, the sessionId (with
//! its [`SessionPolicy`]) and the thread secrets across restarts, so a restarted program
//! continues the same conversation, as the official SDK does with browser storage.
//!
//! # Format
//! One JSON object, written by this library only:
//! `{"version": 1, "clientId": "…", "threadId": "…", "sessionId": "…",
//!   "sessionPolicy": "keep", "secrets": {"<threadId>": "<secret>"}}`.
//!
//! # What wins at [`Client::connect`](crate::Client::connect)
//! - threadId: one set with [`Config::thread_id`] > the file's > a new SDK-style one.
//! - sessionId: one set with [`Config::session_id`] > the file's (only with
//!   [`SessionPolicy::Keep`], the default) > a new random one.
//! - secret of the threadId in use: one set with [`Config::secret`] > the file's > none (then
//!   `socket.info` hands one out when the project uses nonces).
//!
//! The file is written before connecting (so a writable path is checked early and a retry
//! continues the same thread), after connecting, and whenever a secret changes (from
//! `socket.info` or a `secret.generated` frame). A failed write before or at connect is an
//! [`Error::Config`]; a failed write later is logged (`log::warn!`) and the client goes on.
//!
//! # A missing, unreadable or corrupt file
//! Missing: a fresh start; the file is created. Unreadable (permissions, a directory), not
//! valid JSON, another format version, empty ids, or written for another clientId: `connect`
//! fails with a clear [`Error::Config`] naming the file, and the file is left untouched — a
//! silent fresh start would drop the conversation and its secret without anyone noticing.
//! Delete the file (or point to another) to start over. Never a panic.
//!
//! # Writing
//! Atomic: a temporary file in the same directory, `fsync`, then `rename` over the old one, so a
//! crash leaves the old or the new file, never half of one. On Unix the file is created with
//! mode `0600`: it holds secrets.
//!
//! [`Config::state_file`]: crate::Config::state_file
//! [`Config::thread_id`]: crate::Config::thread_id
//! [`Config::session_id`]: crate::Config::session_id
//! [`Config::secret`]: crate::Config::secret

#[cfg(test)]
use crate::config::Config;
use crate::config::{SessionPolicy, Settings};
use crate::error::{Error, Result};
use crate::ids;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The format version written and accepted.
pub const STATE_VERSION: u32 = 1;

/// Most secrets kept in the file; the current thread's is always among them.
const MAX_SECRETS: usize = 1000;

/// Serializes writes of all state files of this process, so the last snapshot taken is the
/// last one written.
static SAVE_LOCK: Mutex<()> = Mutex::new(());

/// The contents of a state file.
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedState {
    /// Format version ([`STATE_VERSION`]).
    pub version: u32,
    /// The clientId the ids belong to.
    pub client_id: String,
    /// The threadId of the conversation.
    pub thread_id: String,
    /// The sessionId last used.
    pub session_id: String,
    /// The policy the sessionId was saved under.
    #[serde(default)]
    pub session_policy: SessionPolicy,
    /// Nonce per threadId.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
}

impl std::fmt::Debug for SavedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secrets are nonces: their threads are shown, never their values.
        let secrets: BTreeMap<&str, &str> = self
            .secrets
            .keys()
            .map(|thread| (thread.as_str(), crate::secret::REDACTED))
            .collect();
        f.debug_struct("SavedState")
            .field("version", &self.version)
            .field("client_id", &self.client_id)
            .field("thread_id", &self.thread_id)
            .field("session_id", &self.session_id)
            .field("session_policy", &self.session_policy)
            .field("secrets", &secrets)
            .finish()
    }
}

fn config_error(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::Config(format!("state file {}: {what}", path.display()))
}

impl SavedState {
    /// Reads a state file: `Ok(None)` when it does not exist; [`Error::Config`] when it
    /// cannot be read or is not a valid state file.
    pub fn load(path: &Path) -> Result<Option<SavedState>> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(config_error(path, format_args!("cannot be read ({e})"))),
        };
        let corrupt = |why: String| {
            config_error(
                path,
                format_args!("is corrupt ({why}); delete it to start a new conversation"),
            )
        };
        let state: SavedState = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
        if state.version != STATE_VERSION {
            return Err(corrupt(format!(
                "format version {} where {STATE_VERSION} is expected",
                state.version
            )));
        }
        if [&state.client_id, &state.thread_id, &state.session_id]
            .iter()
            .any(|s| s.trim().is_empty())
        {
            return Err(corrupt("an empty clientId, threadId or sessionId".into()));
        }
        Ok(Some(state))
    }

    /// Writes the state atomically (temporary file, `fsync`, `rename`); mode `0600` on Unix.
    pub fn save(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::InvalidArgument(format!("state cannot be serialized: {e}")))?;
        let tmp = temp_path(path);
        let written = write_synced(&tmp, &json).and_then(|()| fs::rename(&tmp, path));
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e.into());
        }
        sync_dir(path);
        Ok(())
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        &ids::random_hex()[..8]
    );
    path.with_file_name(tmp)
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes the rename durable where the platform allows (best effort).
fn sync_dir(path: &Path) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Applies the state file (if configured) to the config before connecting, following the
/// precedence in the module docs, writes it back, and returns the config with the secrets
/// to start with (the file's, then the configured secret for the configured thread).
pub(crate) fn prepare(mut cfg: Settings) -> Result<(Settings, HashMap<String, String>)> {
    let mut secrets = HashMap::new();
    if let Some(path) = cfg.state_file.clone() {
        if let Some(saved) = SavedState::load(&path)? {
            if saved.client_id != cfg.client_id {
                return Err(config_error(
                    &path,
                    format_args!(
                        "belongs to clientId {:?}, not {:?}; use another file",
                        saved.client_id, cfg.client_id
                    ),
                ));
            }
            if !cfg.thread_id_set {
                cfg.thread_id = saved.thread_id;
            }
            if !cfg.session_id_set && cfg.session_policy == SessionPolicy::Keep {
                cfg.session_id = saved.session_id;
            }
            secrets.extend(saved.secrets);
        }
    }
    if let Some(secret) = &cfg.secret {
        secrets.insert(cfg.thread_id.clone(), secret.expose().to_string());
    }
    persist(&cfg, || secrets.clone())?;
    Ok((cfg, secrets))
}

/// Writes the state file, if one is configured; `secrets` is called under the write lock so
/// the newest snapshot is the one that ends up on disk. Does nothing without a state file.
pub(crate) fn persist(
    cfg: &Settings,
    secrets: impl FnOnce() -> HashMap<String, String>,
) -> Result<()> {
    let Some(path) = &cfg.state_file else {
        return Ok(());
    };
    let _guard = SAVE_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let mut secrets: BTreeMap<String, String> = secrets().into_iter().collect();
    if secrets.len() > MAX_SECRETS {
        let current = secrets.remove_entry(&cfg.thread_id);
        secrets = secrets.into_iter().take(MAX_SECRETS - 1).collect();
        secrets.extend(current);
    }
    SavedState {
        version: STATE_VERSION,
        client_id: cfg.client_id.clone(),
        thread_id: cfg.thread_id.clone(),
        session_id: cfg.session_id.clone(),
        session_policy: cfg.session_policy,
        secrets,
    }
    .save(path)
    .map_err(|e| config_error(path, format_args!("cannot be written ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("flowai-state-{tag}-{}", ids::random_hex()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn round_trip_and_no_temp_file_left() {
        let dir = temp_dir("rt");
        let path = dir.join("state.json");
        let cfg = Config::new("cid")
            .thread_id("t1")
            .secret("s1")
            .state_file(&path);
        let (cfg, secrets) = prepare(cfg.into_settings()).unwrap();
        assert_eq!(secrets.get("t1").map(String::as_str), Some("s1"));
        let saved = SavedState::load(&path).unwrap().unwrap();
        assert_eq!(saved.thread_id, "t1");
        assert_eq!(saved.session_id, cfg.session_id);
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            1,
            "temporary file left behind"
        );
        // A restart without explicit ids continues the saved conversation.
        let (again, secrets) =
            prepare(Config::new("cid").state_file(&path).into_settings()).unwrap();
        assert_eq!(again.thread_id, "t1");
        assert_eq!(again.session_id, cfg.session_id);
        assert_eq!(secrets.get("t1").map(String::as_str), Some("s1"));
        // Renew: a new sessionId, the same thread.
        let renew = Config::new("cid")
            .state_file(&path)
            .session_policy(SessionPolicy::Renew);
        let (renewed, _) = prepare(renew.into_settings()).unwrap();
        assert_eq!(renewed.thread_id, "t1");
        assert_ne!(renewed.session_id, cfg.session_id);
        fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("mode");
        let path = dir.join("state.json");
        prepare(Config::new("cid").state_file(&path).into_settings()).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_files_are_config_errors_and_left_alone() {
        let dir = temp_dir("bad");
        let path = dir.join("state.json");
        for text in [
            "",
            "{not json",
            "[]",
            r#"{"version":2,"clientId":"c","threadId":"t","sessionId":"s"}"#,
        ] {
            fs::write(&path, text).unwrap();
            let err = prepare(Config::new("cid").state_file(&path).into_settings()).unwrap_err();
            assert!(
                matches!(err, Error::Config(ref m) if m.contains("corrupt")),
                "{text}: {err}"
            );
            assert_eq!(fs::read_to_string(&path).unwrap(), text);
        }
        let err = prepare(Config::new("cid").state_file(&dir).into_settings()).unwrap_err();
        assert!(
            matches!(err, Error::Config(ref m) if m.contains("cannot be read")),
            "{err}"
        );
        fs::remove_dir_all(dir).unwrap();
    }
}
