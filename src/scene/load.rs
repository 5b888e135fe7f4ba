//! Reading a scene file: bytes to text with located encoding problems, RON parsing with positioned
//! errors, the version check and hashing. Semantic checks live in `check`.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::diagnostic::{Diagnostic, Diagnostics, SourceMap};
use super::format::{SCENE_VERSION, Scene};
use super::limits::MAX_FILE_BYTES;

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

/// Reads a file of at most `MAX_FILE_BYTES`, as UTF-8 text without a byte-order mark. Problems come
/// back located (a bad byte by its line and column).
pub fn read_text(path: &Path, what: &str) -> Result<(String, Vec<u8>), Diagnostics> {
    let fail = |message: String, hint: &str| {
        Diagnostics(vec![Diagnostic {
            file: path.to_path_buf(),
            line: 1,
            col: 1,
            object: None,
            message,
            hint: Some(hint.into()),
        }])
    };
    let file =
        std::fs::File::open(path).map_err(|e| fail(format!("cannot read the {what} file: {e}"), "check the path"))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(format!("cannot read the {what} file: {e}"), "check the path"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(fail(
            format!("the file is larger than {} MiB", MAX_FILE_BYTES >> 20),
            "a unit's scene is a few hundred kB at most; simplify outlines or split the unit",
        ));
    }
    let text = decode(path, &bytes)?;
    Ok((text, bytes))
}

/// UTF-8 text without a byte-order mark, or a located problem.
pub fn decode(path: &Path, bytes: &[u8]) -> Result<String, Diagnostics> {
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        let source = SourceMap::new(path, String::new());
        return Err(Diagnostics(vec![
            source
                .at(1, 1, None, "the file starts with a UTF-8 byte-order mark (U+FEFF)")
                .hint("save the file as UTF-8 without BOM (in most editors: 'UTF-8' rather than 'UTF-8 with BOM')"),
        ]));
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_string()),
        Err(e) => {
            let valid = e.valid_up_to();
            // The valid prefix is text: it gives the bad byte's line and column.
            let prefix = SourceMap::new(path, String::from_utf8_lossy(&bytes[..valid]).into_owned());
            let (line, col) = prefix.position(valid);
            Err(Diagnostics(vec![
                prefix
                    .at(
                        line,
                        col,
                        None,
                        format!("the file is not UTF-8 text: byte 0x{:02X} (offset {valid})", bytes[valid]),
                    )
                    .hint("save the file as UTF-8; names in Chinese are fine in UTF-8"),
            ]))
        }
    }
}

/// Reads and parses a scene file; problems come back located.
pub fn read_scene(path: &Path) -> Result<LoadedScene, Diagnostics> {
    let (text, bytes) = read_text(path, "scene")?;
    let hash = hex(&Sha256::digest(&bytes));
    parse_scene(SourceMap::new(path, text), hash)
}

/// Parses scene text that did not come from a file (tests, imports).
pub fn parse_scene(source: SourceMap, hash: String) -> Result<LoadedScene, Diagnostics> {
    if let Some(d) = version_problem(&source) {
        return Err(Diagnostics(vec![d]));
    }
    parse_ron::<Scene>(&source, "the scene").map(|scene| LoadedScene { scene, source, hash })
}

/// Parses RON text into `T`, locating the first problem.
pub fn parse_ron<T: serde::de::DeserializeOwned>(source: &SourceMap, what: &str) -> Result<T, Diagnostics> {
    if let Some(d) = stray_character(source) {
        return Err(Diagnostics(vec![d]));
    }
    ron_options().from_str::<T>(&source.text).map_err(|e| {
        let (line, col) = (e.span.start.line.max(1), e.span.start.col.max(1));
        let mut message = describe_ron_error(&e.code, what);
        // Past the last character that is not blank or a comment: the text stops mid-structure.
        let last = source.text.trim_end().len().saturating_sub(1);
        if (line, col) >= source.position(last) && !matches!(e.code, ron::Error::TrailingCharacters) {
            message.push_str(" (the text ends here: is the file cut off?)");
        }
        let d = source.at(line, col, None, message);
        if let Some((l, c)) = source.multiline_string_before(line) {
            return Diagnostics(vec![d.hint(format!(
                "the string that opens at {l}:{c} runs over the end of its line: is its closing quote missing?"
            ))]);
        }
        let d = match &e.code {
            ron::Error::NoSuchStructField { expected, .. } => {
                d.hint(format!("fields allowed here: {}", expected.join(", ")))
            }
            ron::Error::NoSuchEnumVariant { expected, .. } => d.hint(format!("one of: {}", expected.join(", "))),
            ron::Error::MissingStructField { .. } => d.hint("add the field; see README.md, 'Scene format'"),
            _ => d.hint("see README.md, 'Scene format', and the bundled scenes/*.ron for the syntax"),
        };
        Diagnostics(vec![d])
    })
}

fn describe_ron_error(code: &ron::Error, what: &str) -> String {
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
        other => format!("cannot parse {what}: {other}"),
    }
}

/// ASCII look-alikes that an input method slips in: full-width punctuation and spaces.
fn ascii_lookalike(c: char) -> Option<char> {
    Some(match c {
        '，' => ',',
        '：' => ':',
        '；' => ';',
        '（' => '(',
        '）' => ')',
        '【' | '［' => '[',
        '】' | '］' => ']',
        '“' | '”' | '＂' => '"',
        '‘' | '’' => '\'',
        '　' | '\u{00A0}' => ' ',
        '－' | '−' => '-',
        '．' | '。' => '.',
        c if ('！'..='～').contains(&c) => char::from_u32(c as u32 - 0xFEE0)?,
        _ => return None,
    })
}

/// The first character outside strings and comments that RON cannot read, described with the
/// ASCII character to type instead when there is one.
fn stray_character(source: &SourceMap) -> Option<Diagnostic> {
    let offset = source.first_stray_character()?;
    let c = source.text[offset..].chars().next()?;
    let (line, col) = source.position(offset);
    let name = if c.is_control() { "a control character".to_string() } else { format!("'{c}'") };
    let d = source.at(
        line,
        col,
        None,
        format!("{name} (U+{:04X}) outside a string or comment: RON is written in ASCII", c as u32),
    );
    Some(match ascii_lookalike(c) {
        Some(a) => d.hint(format!("replace it with the ASCII '{a}' (switch the input method to half-width)")),
        None => d.hint("names in other scripts belong inside \"quotes\" (e.g. unit.name) or in // comments"),
    })
}

/// The version is checked before parsing so that a newer file gets a version message,
/// not a confusing field error. The field is found outside comments and strings.
fn version_problem(source: &SourceMap) -> Option<Diagnostic> {
    let (offset, word) = source.field_word("version")?;
    let digits: String = word?.chars().take_while(char::is_ascii_digit).take(10).collect();
    let version: u32 = digits.parse().ok()?;
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

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
