//! GitOps mode: the rendered objects as files, one per object, in
//! `<gitops_dir>/<app>/<env>/`, for Argo CD or Flux to pick up.
//!
//! Every file starts with an ownership line `# podium-owner: <owner>`; a
//! workload removes only files carrying its own owner id, so workloads of an
//! app share the directory and hand-written files are left alone. Files are
//! written through a temporary name and renamed, so a reader never sees half
//! a manifest. The directory must be granted (`file://<gitops_dir>`).
//!
//! Secret objects are written like the others (base64 `data`): point the
//! directory at a private repository, or keep secret outputs out of GitOps
//! definitions.

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use podium_driver_sdk::{Error, Request, log};

use crate::inputs::{Mode, State};
use crate::manifest::Manifest;
use crate::render::Target;
use crate::{Changes, Kubernetes, Prepared, state_for, yaml};

const OWNER_PREFIX: &str = "# podium-owner: ";

/// `<gitops_dir>/<app>/<env>`.
pub fn directory(req: &Request<Kubernetes>, target: &Target) -> Result<PathBuf, Error> {
    let root = req.driver_values.gitops_dir.as_deref().ok_or_else(|| {
        Error::invalid_input("driver_values.gitops_dir is required in gitops mode")
    })?;
    if !root.starts_with('/') {
        return Err(Error::invalid_input(format!(
            "driver_values.gitops_dir: {root:?} must be an absolute path"
        )));
    }
    for (what, part) in [("app id", &target.app), ("env id", &target.env)] {
        if part.is_empty() || part.contains(['/', '\\', '\0']) || part == "." || part == ".." {
            return Err(Error::invalid_input(format!(
                "the {what} {part:?} cannot be a directory name"
            )));
        }
    }
    Ok(Path::new(root).join(&target.app).join(&target.env))
}

/// The file text of an object.
pub fn file_text(object: &Manifest, owner: &str) -> String {
    format!(
        "# Written by Podium; the next deploy rewrites or removes this file.\n{OWNER_PREFIX}{owner}\n{}",
        yaml::to_string(&object.body)
    )
}

pub(crate) fn plan(req: &Request<Kubernetes>, prepared: &Prepared) -> Result<Changes, Error> {
    let dir = directory(req, &prepared.target)?;
    let owner = &prepared.target.owner;
    let mut changes = Changes::default();
    let mut rendered = BTreeSet::new();
    for object in &prepared.objects {
        let name = object.file_name();
        let path = dir.join(&name);
        let label = format!("{}", path.display());
        let existing = read(&path)?;
        check_owner(&path, existing.as_deref(), owner)?;
        match existing {
            None => changes.create.push(label),
            Some(text) if text == file_text(object, owner) => changes.unchanged.push(label),
            Some(_) => changes.change.push(label),
        }
        rendered.insert(name);
    }
    for stale in owned_files(&dir, owner)? {
        if !rendered.contains(&stale) {
            changes.prune.push(dir.join(stale).display().to_string());
        }
    }
    Ok(changes)
}

pub(crate) fn apply(req: &Request<Kubernetes>, prepared: &Prepared) -> Result<State, Error> {
    let dir = directory(req, &prepared.target)?;
    let owner = &prepared.target.owner;
    // Check every file before writing any, so a conflict changes nothing.
    let mut writes = Vec::new();
    let mut rendered = BTreeSet::new();
    for object in &prepared.objects {
        let name = object.file_name();
        let path = dir.join(&name);
        let text = file_text(object, owner);
        let existing = read(&path)?;
        check_owner(&path, existing.as_deref(), owner)?;
        if existing.as_deref() != Some(text.as_str()) {
            writes.push((path, text));
        }
        rendered.insert(name);
    }
    std::fs::create_dir_all(&dir).map_err(|e| io_error("create", &dir, &e))?;
    for (path, text) in writes {
        write_atomically(&path, &text)?;
        log::info(format!("wrote {}", path.display()));
    }
    remove_owned(&dir, owner, &rendered)?;
    // The directory moved (another gitops_dir, app or env): clean the old one.
    if let Some(State {
        mode: Mode::Gitops,
        dir: Some(old),
        ..
    }) = &req.state
        && Path::new(old) != dir
    {
        remove_owned(Path::new(old), owner, &BTreeSet::new())?;
        remove_if_empty(Path::new(old));
    }
    Ok(state_for(
        Mode::Gitops,
        &prepared.target,
        &prepared.objects,
        Some(dir.display().to_string()),
    ))
}

pub(crate) fn delete(req: &Request<Kubernetes>, target: &Target) -> Result<(), Error> {
    let dir = directory(req, target)?;
    let mut dirs = vec![dir];
    if let Some(State { dir: Some(old), .. }) = &req.state {
        dirs.push(PathBuf::from(old));
    }
    dirs.dedup();
    for dir in dirs {
        remove_owned(&dir, &target.owner, &BTreeSet::new())?;
        remove_if_empty(&dir);
    }
    Ok(())
}

/// Removes the files of `owner` in `dir` that are not in `keep`.
fn remove_owned(dir: &Path, owner: &str, keep: &BTreeSet<String>) -> Result<(), Error> {
    for name in owned_files(dir, owner)? {
        if keep.contains(&name) {
            continue;
        }
        let path = dir.join(&name);
        match std::fs::remove_file(&path) {
            Ok(()) => log::info(format!("removed {}", path.display())),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("remove", &path, &e)),
        }
    }
    Ok(())
}

/// Removes `dir` (`<app>/<env>`) and then its parent (`<app>`) when empty.
fn remove_if_empty(dir: &Path) {
    // Not being able to remove a directory that is not empty is the point.
    if std::fs::remove_dir(dir).is_ok()
        && let Some(parent) = dir.parent()
    {
        let _ = std::fs::remove_dir(parent);
    }
}

/// The owner named in a file's header.
fn file_owner(text: &str) -> Option<&str> {
    text.lines()
        .take(3)
        .find_map(|line| line.strip_prefix(OWNER_PREFIX))
}

/// Refuses to overwrite a file another workload (or a person) wrote.
fn check_owner(path: &Path, existing: Option<&str>, owner: &str) -> Result<(), Error> {
    match existing.map(file_owner) {
        None => Ok(()),
        Some(Some(o)) if o == owner => Ok(()),
        Some(other) => Err(Error::conflict(format!(
            "{} already exists and belongs to {}; Podium does not overwrite it",
            path.display(),
            match other {
                Some(o) => format!("another Podium workload (owner {o})"),
                None => "no Podium workload (no `# podium-owner:` line)".to_owned(),
            }
        ))),
    }
}

/// Names of the `.yaml` files in `dir` owned by `owner`, sorted.
fn owned_files(dir: &Path, owner: &str) -> Result<Vec<String>, Error> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error("list", dir, &e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        // Another workload of the same app/env may be renaming its files
        // into this directory right now: an entry that vanished is not ours.
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(io_error("list", dir, &e)),
        };
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".yaml") || !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let text = read(&dir.join(&name))?.unwrap_or_default();
        if file_owner(&text) == Some(owner) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

fn read(path: &Path) -> Result<Option<String>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        // Not UTF-8: not one of ours.
        Err(e) if e.kind() == ErrorKind::InvalidData => Ok(Some(String::new())),
        Err(e) => Err(io_error("read", path, &e)),
    }
}

fn write_atomically(path: &Path, text: &str) -> Result<(), Error> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, text).map_err(|e| io_error("write", &tmp, &e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_error("rename", path, &e))
}

/// File errors: a refused path is almost always a missing grant.
fn io_error(what: &str, path: &Path, e: &std::io::Error) -> Error {
    let shown = path.display();
    match e.kind() {
        ErrorKind::PermissionDenied | ErrorKind::NotFound | ErrorKind::ReadOnlyFilesystem => {
            Error::denied(format!(
                "cannot {what} {shown}: {e}; is the GitOps directory granted (`file://<gitops_dir>`)?"
            ))
        }
        _ => Error::failed(format!("cannot {what} {shown}: {e}")),
    }
}
