//! The key secrets are sealed with at rest: `PODIUM_SECRET_KEY_FILE`, else
//! `<data>/secret.key`, generated (mode 0600) on the first start.
//!
//! Rotation writes the new key to `<file>.next` first, re-seals every
//! secret under it in one atomic batch, then renames `<file>.next` over the
//! file. A crash at any point leaves the data readable: on start, a leftover
//! `.next` joins the key ring and the rotation is finished.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use podium_store::{Keyring, Repo, SecretKey};

use crate::private_file;

pub const DEFAULT_FILE: &str = "secret.key";

/// Where the key is: `PODIUM_SECRET_KEY_FILE` or `<data>/secret.key`.
pub fn path(data_dir: &Path) -> PathBuf {
    match std::env::var_os("PODIUM_SECRET_KEY_FILE") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => data_dir.join(DEFAULT_FILE),
    }
}

fn next_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".next");
    PathBuf::from(p)
}

fn read(path: &Path) -> anyhow::Result<[u8; 32]> {
    private_file::check_private(path)?;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the secret key file {}", path.display()))?;
    SecretKey::parse_file_text(&text).with_context(|| format!("{}", path.display()))
}

/// The key ring for the store, creating the key file if there is none, and
/// the key of an unfinished rotation, if one was left.
pub fn load(path: &Path) -> anyhow::Result<(Keyring, Option<SecretKey>)> {
    if !path.exists() {
        let bytes = SecretKey::generate();
        private_file::write(path, SecretKey::to_file_text(&bytes).as_bytes())
            .context("creating the secret key file")?;
        tracing::info!(file = %path.display(), "SecretKeyCreated");
    }
    let current = SecretKey::from_bytes(&read(path)?);
    let next = next_path(path);
    if next.exists() {
        let pending = SecretKey::from_bytes(&read(&next)?);
        let ring = Keyring::with_older(current, vec![pending.clone()]);
        return Ok((ring, Some(pending)));
    }
    Ok((Keyring::new(current), None))
}

/// What a rotation did.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Rotated {
    pub from_key: String,
    pub to_key: String,
    pub records_resealed: usize,
}

/// Rotates to a new random key (or finishes a rotation to `pending`).
pub fn rotate(repo: &Repo, path: &Path, pending: Option<SecretKey>) -> anyhow::Result<Rotated> {
    let next_file = next_path(path);
    let next = match pending {
        Some(k) => k,
        None => {
            let bytes = SecretKey::generate();
            private_file::write(&next_file, SecretKey::to_file_text(&bytes).as_bytes())
                .context("writing the new secret key (is the key file's directory writable?)")?;
            SecretKey::from_bytes(&bytes)
        }
    };
    let from_key = repo.current_key_id();
    let to_key = next.id().to_owned();
    let records_resealed = repo.rotate_key(next).context("re-sealing the secrets")?;
    std::fs::rename(&next_file, path).with_context(|| {
        format!(
            "replacing {} with {} (the secrets are sealed with the new key: keep that file)",
            path.display(),
            next_file.display()
        )
    })?;
    if let Some(dir) = path.parent() {
        private_file::sync_dir(dir);
    }
    tracing::info!(%from_key, %to_key, records_resealed, "SecretKeyRotated");
    Ok(Rotated {
        from_key,
        to_key,
        records_resealed,
    })
}
