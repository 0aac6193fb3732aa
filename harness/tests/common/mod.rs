//! What the integration tests that run commands share: a command's exit
//! code and output, and its standard output read as JSON.

use std::process::Command;

use serde_json::Value;

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{}\n{}", self.stdout, self.stderr))
    }
}

/// Run a command to its end (-1 as the code when a signal ended it).
pub fn output(cmd: &mut Command) -> Out {
    let o = cmd.output().expect("the command starts");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// A limit of `limits --json`'s snapshot, by name.
pub fn limit<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["snapshot"]["limits"]
        .as_array()
        .expect("snapshot.limits is a list")
        .iter()
        .find(|l| l["name"] == name)
        .unwrap_or_else(|| panic!("the snapshot has no limit {name}"))
}

/// A probe of `limits --json --probe`, by the limit it probed.
pub fn probe<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["probes"]
        .as_array()
        .expect("probes is a list")
        .iter()
        .find(|p| p["limit"] == name)
        .unwrap_or_else(|| panic!("no probe of {name}:\n{}", serde_json::to_string_pretty(&report["probes"]).unwrap_or_default()))
}
