//! Located, human-readable problems found in a scene file.
//! A diagnostic names the file, line:column, the object and what to do about it.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    /// The object the problem belongs to, e.g. `door 'east_exit'`.
    pub object: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: error: ", self.file.display(), self.line, self.col)?;
        if let Some(object) = &self.object {
            write!(f, "{object}: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  help: {hint}")?;
        }
        Ok(())
    }
}

/// The text of a scene file, kept to turn object ids back into line:column positions.
#[derive(Clone, Debug)]
pub struct SourceMap {
    pub file: PathBuf,
    pub text: String,
}

impl SourceMap {
    pub fn new(file: &Path, text: String) -> Self {
        Self { file: file.to_path_buf(), text }
    }

    /// Line and column (both from 1) of a byte offset.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }

    /// Where the `n`-th (from 0) object declared with `id: "<id>"` starts.
    pub fn locate_id(&self, id: &str, n: usize) -> Option<(usize, usize)> {
        let quoted = format!("\"{id}\"");
        self.text
            .match_indices(&quoted)
            .filter(|(offset, _)| {
                let before = self.text[..*offset].trim_end();
                before.ends_with(':') && before[..before.len() - 1].trim_end().ends_with("id")
            })
            .nth(n)
            .map(|(offset, _)| self.position(offset))
    }

    /// Where `needle` first occurs.
    pub fn locate_text(&self, needle: &str) -> Option<(usize, usize)> {
        self.text.find(needle).map(|offset| self.position(offset))
    }

    /// A diagnostic for the object with this id (its first declaration).
    pub fn at_id(&self, kind: &str, id: &str, message: impl Into<String>) -> Diagnostic {
        let (line, col) = self.locate_id(id, 0).unwrap_or((1, 1));
        self.at(line, col, Some(format!("{kind} '{id}'")), message)
    }

    /// A diagnostic positioned at the first occurrence of `needle`, or at the named object.
    pub fn at_text(&self, needle: &str, object: Option<String>, message: impl Into<String>) -> Diagnostic {
        let (line, col) = self.locate_text(needle).unwrap_or((1, 1));
        self.at(line, col, object, message)
    }

    pub fn at(&self, line: usize, col: usize, object: Option<String>, message: impl Into<String>) -> Diagnostic {
        Diagnostic { file: self.file.clone(), line, col, object, message: message.into(), hint: None }
    }
}

impl Diagnostic {
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Every problem found, in file order.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn sorted(mut self) -> Self {
        self.0.sort_by(|a, b| (a.line, a.col).cmp(&(b.line, b.col)));
        self.0.dedup();
        self
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}
