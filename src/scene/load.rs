//! Reading a scene file: RON parsing with positioned errors, version check, hashing.
//! Semantic checks live in `validate`; this module only turns text into `Scene`.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::diagnostic::{Diagnostic, Diagnostics, SourceMap};
use super::format::{SCENE_VERSION, Scene};

/// A parsed scene with the text it came from.
#[derive(Clone, Debug)]
pub struct LoadedScene {
    pub scene: Scene,
    pub source: SourceMap,
    /// SHA-256 of the file's bytes, hex.
    pub hash: String,
}

impl LoadedScene {
    /// The scene's file name without extension, used for default output folders.
    pub fn stem(&self) -> String {
        self.source.file.file_stem().map_or_else(|| "scene".into(), |s| s.to_string_lossy().into_owned())
    }
}

pub fn ron_options() -> ron::Options {
    ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
}

/// Reads and parses a scene file; problems come back located.
pub fn read_scene(path: &Path) -> Result<LoadedScene, Diagnostics> {
    let bytes = std::fs::read(path).map_err(|e| {
        Diagnostics(vec![Diagnostic {
            file: path.to_path_buf(),
            line: 1,
            col: 1,
            object: None,
            message: format!("cannot read the scene file: {e}"),
            hint: Some("check the path; scenes live in scenes/*.ron".into()),
        }])
    })?;
    let hash = hex(&Sha256::digest(&bytes));
    let text = String::from_utf8(bytes).map_err(|e| {
        let source = SourceMap::new(path, String::new());
        Diagnostics(vec![source.at(
            1,
            1,
            None,
            format!("the file is not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
        )])
    })?;
    let source = SourceMap::new(path, text);
    parse_scene(source, hash)
}

/// Parses scene text that did not come from a file (tests, imports).
pub fn parse_scene(source: SourceMap, hash: String) -> Result<LoadedScene, Diagnostics> {
    if let Some(d) = version_problem(&source) {
        return Err(Diagnostics(vec![d]));
    }
    match ron_options().from_str::<Scene>(&source.text) {
        Ok(scene) => Ok(LoadedScene { scene, source, hash }),
        Err(e) => {
            let d = source.at(e.span.start.line, e.span.start.col, None, describe_ron_error(&e.code));
            let d = match &e.code {
                ron::Error::NoSuchStructField { expected, .. } => {
                    d.hint(format!("fields allowed here: {}", expected.join(", ")))
                }
                ron::Error::NoSuchEnumVariant { expected, .. } => d.hint(format!("one of: {}", expected.join(", "))),
                ron::Error::MissingStructField { .. } => d.hint("add the field; see README.md, 'Scene format'"),
                _ => d.hint("see README.md, 'Scene format', and the bundled scenes/*.ron for the syntax"),
            };
            Err(Diagnostics(vec![d]))
        }
    }
}

fn describe_ron_error(code: &ron::Error) -> String {
    match code {
        ron::Error::NoSuchStructField { found, outer, .. } => match outer {
            Some(outer) => format!("unknown field `{found}` in {outer}"),
            None => format!("unknown field `{found}`"),
        },
        ron::Error::MissingStructField { field, outer } => match outer {
            Some(outer) => format!("missing field `{field}` in {outer}"),
            None => format!("missing field `{field}`"),
        },
        ron::Error::NoSuchEnumVariant { found, outer, .. } => match outer {
            Some(outer) => format!("unknown variant `{found}` of {outer}"),
            None => format!("unknown variant `{found}`"),
        },
        other => format!("cannot parse the scene: {other}"),
    }
}

/// The version is checked before parsing so that a newer file gets a version message,
/// not a confusing field error.
fn version_problem(source: &SourceMap) -> Option<Diagnostic> {
    let offset = find_field(&source.text, "version")?;
    let rest = &source.text[offset..];
    let value: String = rest[rest.find(':')? + 1..].trim_start().chars().take_while(|c| c.is_ascii_digit()).collect();
    let version: u32 = value.parse().ok()?;
    (version != SCENE_VERSION).then(|| {
        let (line, col) = source.position(offset);
        source
            .at(
                line,
                col,
                None,
                format!("scene format version {version} is not supported; this unitwin reads version {SCENE_VERSION}"),
            )
            .hint("upgrade unitwin, or write the scene in version 1 format")
    })
}

/// Byte offset of `name:` used as a field name, skipping comments and strings.
fn find_field(text: &str, name: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                continue;
            }
            _ if text[i..].starts_with(name)
                && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'))
                && text[i + name.len()..].trim_start().starts_with(':') =>
            {
                return Some(i);
            }
            _ => {}
        }
        i += 1;
    }
    None
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
