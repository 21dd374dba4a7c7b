//! The workspace lints (`[workspace.lints]` in the root `Cargo.toml`) reach every crate: a
//! member that does not opt in with `[lints] workspace = true` is silently exempt, and a new
//! function crate is the easiest place to forget it.
//!
//! This reads the repository's files; it needs no running server.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn manifest(dir: &Path) -> toml::Table {
    let path = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.parse()
        .unwrap_or_else(|e| panic!("{} is not TOML: {e}", path.display()))
}

/// The directory of every member of the workspace rooted at `root`, with `dir/*` globs
/// expanded as cargo does.
fn members_of(root_dir: &Path) -> Vec<PathBuf> {
    let root = manifest(root_dir);
    let patterns = root["workspace"]["members"]
        .as_array()
        .expect("workspace.members is a list");
    let mut dirs = Vec::new();
    for pattern in patterns {
        let pattern = pattern.as_str().expect("a member is a string");
        match pattern.strip_suffix("/*") {
            Some(parent) => {
                for entry in std::fs::read_dir(repo().join(parent))
                    .unwrap_or_else(|e| panic!("{parent}: {e}"))
                {
                    let dir = entry.expect("dir entry").path();
                    if dir.join("Cargo.toml").is_file() {
                        dirs.push(dir);
                    }
                }
            }
            None => dirs.push(root_dir.join(pattern)),
        }
    }
    dirs
}

/// The repository's workspace, then the Worker's: a workspace of its own for a lockfile of its
/// own (worker/Cargo.toml says why), held to the same lints.
fn members() -> Vec<PathBuf> {
    let mut dirs = members_of(&repo());
    dirs.extend(members_of(&repo().join("worker")));
    dirs
}

#[test]
fn every_workspace_member_opts_into_the_workspace_lints() {
    let members = members();
    assert!(
        members.len() > 5,
        "the member globs expanded to too little: {members:?}"
    );
    let exempt: Vec<_> = members
        .iter()
        .filter(|dir| {
            let lints = manifest(dir).get("lints").cloned();
            lints.and_then(|l| l.get("workspace").and_then(toml::Value::as_bool)) != Some(true)
        })
        .map(|dir| {
            dir.canonicalize()
                .unwrap_or_else(|_| dir.clone())
                .strip_prefix(repo().canonicalize().unwrap_or_else(|_| repo()))
                .unwrap_or(dir)
                .display()
                .to_string()
        })
        .collect();
    assert!(
        exempt.is_empty(),
        "add `[lints] workspace = true` to the Cargo.toml of: {exempt:?}"
    );
}

#[test]
fn the_worker_workspace_keeps_the_same_lints_as_the_repository() {
    let lints = |dir: &Path| manifest(dir)["workspace"].get("lints").cloned();
    let ours = lints(&repo());
    assert!(
        ours.is_some(),
        "the root Cargo.toml has no [workspace.lints]"
    );
    assert_eq!(
        lints(&repo().join("worker")),
        ours,
        "worker/Cargo.toml's [workspace.lints] differs from the root Cargo.toml's: copy it over"
    );
}
