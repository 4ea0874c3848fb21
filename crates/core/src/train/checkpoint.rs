//! Checkpoint and resume: model and optimiser as burnpack files (Burn's own format), the
//! loop's state as JSON. The state file is written last and atomically, so a checkpoint
//! counts only once it is complete; an interrupted save leaves the previous one usable.

use std::path::{Path, PathBuf};

use anyhow::Context;
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::report::write_atomic;

/// A checkpoint folder holding `model.bpk`, `optim.bpk` and `state.json`.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    dir: PathBuf,
}

impl Checkpoint {
    /// A checkpoint in `dir` (created on save).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether a complete checkpoint exists.
    pub fn exists(&self) -> bool {
        self.dir.join("state.json").is_file()
    }

    /// Saves model, optimiser and `state` (e.g. step, RNG seed, metric history).
    pub fn save<M: Module, S: Serialize>(
        &self,
        model: &M,
        optim: &ModuleOptimizer,
        state: &S,
    ) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        // Burn writes the files directly; write to temporary names and rename them.
        let (model_tmp, optim_tmp) = (
            self.dir.join("model.tmp.bpk"),
            self.dir.join("optim.tmp.bpk"),
        );
        model
            .clone()
            .save_file(&model_tmp)
            .map_err(|e| anyhow::anyhow!("cannot save model to {}: {e:?}", model_tmp.display()))?;
        optim.save(&optim_tmp).map_err(|e| {
            anyhow::anyhow!("cannot save optimiser to {}: {e:?}", optim_tmp.display())
        })?;
        // Invalidate the old state first: a crash between the renames must not pair new
        // weights with an old step.
        let _ = std::fs::remove_file(self.dir.join("state.json"));
        for (tmp, name) in [(&model_tmp, "model.bpk"), (&optim_tmp, "optim.bpk")] {
            std::fs::rename(tmp, self.dir.join(name))
                .with_context(|| format!("cannot rename {}", tmp.display()))?;
            crate::testing::kill_point("checkpoint-renames");
        }
        write_atomic(
            &self.dir.join("state.json"),
            serde_json::to_string_pretty(state)?.as_bytes(),
        )
    }

    /// Loads a checkpoint into `model` and `optim` (freshly built with the same config)
    /// and returns the state; `Ok(None)` when there is no complete checkpoint.
    pub fn load<M: Module, S: DeserializeOwned>(
        &self,
        model: M,
        optim: ModuleOptimizer,
    ) -> anyhow::Result<Option<(M, ModuleOptimizer, S)>> {
        if !self.exists() {
            return Ok(None);
        }
        let state_path = self.dir.join("state.json");
        let text = std::fs::read_to_string(&state_path)
            .with_context(|| format!("cannot read {}", state_path.display()))?;
        let state: S = serde_json::from_str(&text)
            .with_context(|| format!("{} does not match this run's state", state_path.display()))?;
        let model_path = self.dir.join("model.bpk");
        let model = model.try_load_file(&model_path).map_err(|e| {
            anyhow::anyhow!(
                "cannot load {} (was it saved by another config?): {e:?}",
                model_path.display()
            )
        })?;
        let optim_path = self.dir.join("optim.bpk");
        let optim = optim
            .load(&optim_path)
            .map_err(|e| anyhow::anyhow!("cannot load {}: {e:?}", optim_path.display()))?;
        Ok(Some((model, optim, state)))
    }
}
