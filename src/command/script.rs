//! `commands.ron`: the commands a run applied, written beside its outputs and read back by
//! `unitwin run --commands` to replay them exactly. Problems are located like scene problems.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Command, LoggedCommand, Origin};
use crate::scene::load::{parse_ron, read_text};
use crate::scene::{Diagnostics, SourceMap};
use crate::space::Space;

/// The only command file version this build reads.
pub const SCRIPT_VERSION: u32 = 1;

/// The file's contents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandScript {
    pub version: u32,
    /// SHA-256 of the scene file the commands were recorded on.
    pub scene_sha256: String,
    /// The simulation step the commands were recorded at, s.
    pub step: f64,
    pub commands: Vec<LoggedCommand>,
}

impl CommandScript {
    pub fn to_ron(&self) -> String {
        let config = ron::ser::PrettyConfig::default().struct_names(true);
        let body = ron::ser::to_string_pretty(self, config).expect("plain data serialises");
        format!(
            "// unitwin command log: every command the run applied, at the start of its step.\n\
             // Replay with `unitwin run SCENE --commands commands.ron` (same scene, same seed).\n{body}\n"
        )
    }

    /// The commands resolved against `space`, for a run stepping `dt` seconds. Problems are located in `source`.
    pub fn resolve(
        &self,
        source: &SourceMap,
        space: &Space,
        dt: f64,
    ) -> Result<Vec<(u64, Origin, Command)>, Diagnostics> {
        let mut diags = Diagnostics::default();
        if self.version != SCRIPT_VERSION {
            diags.push(
                source
                    .at_text(
                        "version:",
                        None,
                        format!(
                            "command file version {} is not supported; this unitwin reads version {SCRIPT_VERSION}",
                            self.version
                        ),
                    )
                    .hint("record the commands again with this unitwin"),
            );
        }
        if !(self.step > 0.0) || (self.step - dt).abs() > 1e-12 * dt.max(1.0) {
            diags.push(
                source
                    .at_text(
                        "step:",
                        None,
                        format!("the commands were recorded at a step of {} s, but the scene steps {dt} s", self.step),
                    )
                    .hint("replay on the scene they were recorded on, or change the scene's run.step back"),
            );
        }
        let mut resolved = Vec::with_capacity(self.commands.len());
        let mut previous = 0;
        for (n, entry) in self.commands.iter().enumerate() {
            let (line, col) = nth_position(source, "command:", n);
            let object = Some(format!("command #{} (step {})", n + 1, entry.step));
            if entry.step < previous {
                diags.push(
                    source
                        .at(
                            line,
                            col,
                            object.clone(),
                            format!("is at step {}, before the command above it (step {previous})", entry.step),
                        )
                        .hint("commands are listed in the order they were applied"),
                );
            }
            previous = previous.max(entry.step);
            match Command::resolve(&entry.command, space) {
                Ok(command) => resolved.push((entry.step, entry.origin, command)),
                Err(e) => diags.push(
                    source.at(line, col, object, e.to_string()).hint("the command file must belong to this scene"),
                ),
            }
        }
        if diags.is_empty() { Ok(resolved) } else { Err(diags) }
    }
}

/// Line and column of the `n`-th (from 0) occurrence of `needle` outside comments, or 1:1.
fn nth_position(source: &SourceMap, needle: &str, n: usize) -> (usize, usize) {
    let mut seen = 0;
    let mut offset = 0;
    for line in source.text.split_inclusive('\n') {
        let code = line.split("//").next().unwrap_or("");
        let mut from = 0;
        while let Some(i) = code[from..].find(needle) {
            if seen == n {
                return source.position(offset + from + i);
            }
            seen += 1;
            from += i + needle.len();
        }
        offset += line.len();
    }
    (1, 1)
}

/// Reads a command file, located problems included.
pub fn read_script(path: &Path) -> Result<(CommandScript, SourceMap), Diagnostics> {
    let (text, _) = read_text(path, "command")?;
    let source = SourceMap::new(path, text);
    let script = parse_ron::<CommandScript>(&source, "the command file")?;
    Ok((script, source))
}
