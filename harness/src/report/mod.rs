//! Reports render verdicts; they never judge. Every format is made from the
//! same `Run` (the environment plus the verdicts).

pub mod compare;
pub mod formats;
pub mod human;
pub mod json;

use serde::{Deserialize, Serialize};

use crate::check::{Status, Verdict};
use crate::plan::{Environment, Plan};

/// One run of the harness, as every reporter sees it.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Run {
    pub environment: Environment,
    pub verdicts: Vec<Verdict>,
    /// Plans by name, so reporters can show steps and locations.
    #[serde(skip)]
    pub plans: Vec<Plan>,
    pub wall_ms: f64,
    pub jobs: usize,
}

/// Counts by status.
#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Totals {
    pub pass: usize,
    pub fail: usize,
    pub skip: usize,
    pub broken: usize,
    pub timed_out: usize,
    pub leaked: usize,
}

impl Run {
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for v in &self.verdicts {
            match v.status {
                Status::Pass => t.pass += 1,
                Status::Fail => t.fail += 1,
                Status::Skip => t.skip += 1,
                Status::Broken => t.broken += 1,
            }
            t.timed_out += usize::from(v.timed_out);
            t.leaked += usize::from(v.leaked);
        }
        t
    }

    pub fn plan(&self, name: &str) -> Option<&Plan> {
        self.plans.iter().find(|p| p.name == name)
    }
}
