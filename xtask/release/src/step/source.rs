//! The build's input: the commit's tree, never the working tree.

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Serialize;

use super::needs::{Needs, Tool};
use super::{Action, Cx};
use crate::cmd::Cmd;
use crate::source::{self, Source};

/// An empty directory, made fresh.
#[derive(Debug, Clone, Serialize)]
pub struct FreshDir {
    pub path: PathBuf,
}

impl Action for FreshDir {
    fn needs(&self) -> Needs {
        Needs::new()
    }

    fn describe(&self) -> String {
        format!("empty directory {}", self.path.display())
    }

    fn hint(&self) -> String {
        format!(
            "{} could not be made afresh: check that the output directory (--out-dir) is \
             writable and has room",
            self.path.display()
        )
    }

    fn run(&self, _: &mut Cx) -> Result<()> {
        let _ = std::fs::remove_dir_all(&self.path);
        std::fs::create_dir_all(&self.path)
            .with_context(|| format!("cannot create {}", self.path.display()))
    }
}

/// `git archive` of the commit: its exact tree, every file with the commit's time.
#[derive(Debug, Clone, Serialize)]
pub struct ArchiveSource {
    pub source: Source,
    pub archive: PathBuf,
}

impl ArchiveSource {
    pub fn command(&self) -> Cmd {
        source::archive_cmd(&self.source, &self.archive)
    }
}

impl Action for ArchiveSource {
    fn needs(&self) -> Needs {
        Needs::new().tools([Tool::Git])
    }

    fn describe(&self) -> String {
        format!("source: {}", self.command())
    }

    fn hint(&self) -> String {
        format!(
            "git could not archive commit {} of {}; nothing was built",
            self.source.commit,
            self.source.dir.display()
        )
    }

    fn run(&self, _: &mut Cx) -> Result<()> {
        self.command().run()
    }
}

/// The archive unpacked as the build context.
#[derive(Debug, Clone, Serialize)]
pub struct UnpackSource {
    pub archive: PathBuf,
    pub dest: PathBuf,
}

impl UnpackSource {
    pub fn command(&self) -> Cmd {
        source::unpack_cmd(&self.archive, &self.dest)
    }
}

impl Action for UnpackSource {
    fn needs(&self) -> Needs {
        Needs::new().tools([Tool::Tar])
    }

    fn describe(&self) -> String {
        format!("source: {}", self.command())
    }

    fn hint(&self) -> String {
        format!(
            "tar could not unpack the commit into {}; nothing was built",
            self.dest.display()
        )
    }

    fn run(&self, _: &mut Cx) -> Result<()> {
        self.command().run()
    }
}
