//! Located, human-readable problems found in a scene file.
//! A diagnostic names the file, line:column, the object and what to do about it.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

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

/// A number for a message: as written for everyday magnitudes, in exponent form when it is huge
/// or tiny (`1e300`, not three hundred digits).
pub fn number(x: f64) -> String {
    if x.is_finite() && x != 0.0 && !(1e-4..1e9).contains(&x.abs()) { format!("{x:e}") } else { format!("{x}") }
}

/// Text kept on one line, for messages and `//` comment lines: control characters and the Unicode
/// line and paragraph separators (any of which would end a comment, or a message line) escaped.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The text of a scene file, kept to turn object ids back into line:column positions.
#[derive(Clone, Debug)]
pub struct SourceMap {
    pub file: PathBuf,
    pub text: String,
    /// Built on first use, so that locating thousands of problems stays linear in the text.
    index: OnceLock<Index>,
}

/// Where lines start, where each id is declared, and what is comment or string.
#[derive(Clone, Default)]
struct Index {
    line_starts: Vec<usize>,
    /// Offsets of the strings after `id:`, by their value, in file order.
    ids: HashMap<String, Vec<usize>>,
    /// Byte ranges of comments and string contents, in order.
    masked: Vec<(usize, usize)>,
    /// Spans of the elements of `events: [...]`.
    events: Vec<(usize, usize)>,
}

impl fmt::Debug for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Index({} lines, {} ids)", self.line_starts.len(), self.ids.len())
    }
}

impl SourceMap {
    pub fn new(file: &Path, text: String) -> Self {
        Self { file: file.to_path_buf(), text, index: OnceLock::new() }
    }

    fn index(&self) -> &Index {
        self.index.get_or_init(|| {
            let mut index = Index {
                line_starts: std::iter::once(0).chain(self.text.match_indices('\n').map(|(i, _)| i + 1)).collect(),
                ..Index::default()
            };
            let mut tokens = Tokens::new(&self.text);
            let (mut before, mut last): (Option<Token>, Option<Token>) = (None, None);
            for token in tokens.by_ref() {
                if let Token::Str(offset, value) = &token
                    && matches!(before, Some(Token::Word(_, "id")))
                    && matches!(last, Some(Token::Punct(_, b':')))
                {
                    index.ids.entry(value.clone()).or_default().push(*offset);
                }
                before = last.take();
                last = Some(token);
            }
            index.masked = tokens.masked;
            index.events = self.element_spans("events");
            index
        })
    }

    /// Line and column (both from 1) of a byte offset.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let starts = &self.index().line_starts;
        let line = starts.partition_point(|&s| s <= offset);
        let col = self.text[starts[line - 1]..offset].chars().count() + 1;
        (line, col)
    }

    /// Where the `n`-th (from 0) object declared with `id: "<id>"` starts: the position of the
    /// string, however it is written (`id:"x"`, escapes, raw strings), never in a comment.
    pub fn locate_id(&self, id: &str, n: usize) -> Option<(usize, usize)> {
        let offset = *self.index().ids.get(id)?.get(n)?;
        Some(self.position(offset))
    }

    /// Where `needle` first occurs outside comments and outside the contents of strings (a
    /// needle that starts with `"` may match a whole string).
    pub fn locate_text(&self, needle: &str) -> Option<(usize, usize)> {
        let masked = &self.index().masked;
        self.text
            .match_indices(needle)
            .map(|(offset, _)| offset)
            .find(|offset| {
                let k = masked.partition_point(|r| r.1 <= *offset);
                !masked.get(k).is_some_and(|r| r.0 <= *offset)
            })
            .map(|offset| self.position(offset))
    }

    /// The byte span of element `index` (from 0) of the list in field `field:` (e.g. the second
    /// of `events: [...]`), from its first character to the comma or bracket after it.
    pub fn element_span(&self, field: &str, index: usize) -> Option<(usize, usize)> {
        if field == "events" {
            return self.index().events.get(index).copied();
        }
        self.element_spans(field).get(index).copied()
    }

    /// The spans of every element of the list in the first field `field:`.
    fn element_spans(&self, field: &str) -> Vec<(usize, usize)> {
        let mut spans = Vec::new();
        let mut tokens = Tokens::new(&self.text);
        let mut last: Option<Token> = None;
        loop {
            let Some(token) = tokens.next() else { return spans };
            if matches!(token, Token::Punct(_, b':')) && matches!(last, Some(Token::Word(_, w)) if w == field) {
                break;
            }
            last = Some(token);
        }
        if !matches!(tokens.next(), Some(Token::Punct(_, b'['))) {
            return spans;
        }
        let (mut depth, mut start) = (0usize, None);
        for token in tokens {
            let offset = token.offset();
            match token {
                Token::Punct(_, b'(' | b'[' | b'{') => depth += 1,
                Token::Punct(_, b')' | b']' | b'}') if depth > 0 => depth -= 1,
                Token::Punct(_, b']') | Token::Punct(_, b',') if depth == 0 => {
                    if let Some(start) = start.take() {
                        spans.push((start, offset));
                    }
                    if matches!(token, Token::Punct(_, b']')) {
                        return spans;
                    }
                    continue;
                }
                _ => {}
            }
            start.get_or_insert(offset);
        }
        spans
    }

    /// The first field `name:` outside comments and strings: the offset of its name and the word
    /// (number or identifier) written after the colon, if a word follows.
    pub fn field_word(&self, name: &str) -> Option<(usize, Option<&str>)> {
        let mut tokens = Tokens::new(&self.text);
        let mut last: Option<Token> = None;
        while let Some(token) = tokens.next() {
            if matches!(token, Token::Punct(_, b':'))
                && let Some(Token::Word(offset, word)) = last
                && word == name
            {
                let value = match tokens.next() {
                    Some(Token::Word(_, w)) => Some(w),
                    _ => None,
                };
                return Some((offset, value));
            }
            last = Some(token);
        }
        None
    }

    /// The offset of the first character outside comments and strings that RON cannot read: one
    /// that is not ASCII (full-width punctuation from an input method) or an ASCII control character.
    pub fn first_stray_character(&self) -> Option<usize> {
        Tokens::new(&self.text).find_map(|t| match t {
            Token::Punct(offset, c) if c >= 0x80 || (c < 0x20 && !matches!(c, b'\n' | b'\r' | b'\t')) || c == 0x7f => {
                Some(offset)
            }
            _ => None,
        })
    }

    /// The position of the first string literal that runs over a line end before `line`: with a
    /// closing quote missing, a string swallows the text after it and the parser stumbles later.
    pub fn multiline_string_before(&self, line: usize) -> Option<(usize, usize)> {
        let offset = Tokens::new(&self.text).find_map(|t| match t {
            Token::Str(offset, v) if v.contains('\n') => Some(offset),
            _ => None,
        })?;
        let (l, c) = self.position(offset);
        (l < line).then_some((l, c))
    }

    /// Where the target `name` of event `index` (from 0) is written: in its element of
    /// `events: [...]`, or at the element's start.
    pub fn locate_event_target(&self, index: usize, name: &str) -> (usize, usize) {
        match self.element_span("events", index) {
            Some(span) => self.locate_string_in(span, name),
            None => self.locate_text(&format!("\"{name}\"")).unwrap_or((1, 1)),
        }
    }

    /// Where the string `"value"` first occurs in `span` (outside comments), or the span's start.
    pub fn locate_string_in(&self, span: (usize, usize), value: &str) -> (usize, usize) {
        // A span starts at a token outside comments and strings, so scanning can start there.
        let text = self.text.get(..span.1).unwrap_or(&self.text);
        let mut tokens = Tokens::new(text);
        tokens.i = span.0.min(text.len());
        let offset = tokens
            .find_map(|t| match t {
                Token::Str(offset, v) if v == value => Some(offset),
                _ => None,
            })
            .unwrap_or(span.0);
        self.position(offset)
    }

    /// A diagnostic for the object with this id (its first declaration).
    pub fn at_id(&self, kind: &str, id: &str, message: impl Into<String>) -> Diagnostic {
        let (line, col) = self.locate_id(id, 0).unwrap_or((1, 1));
        // Escaped, so that an id with a line break or a quote cannot break the message apart.
        self.at(line, col, Some(format!("{kind} '{}'", one_line(id))), message)
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

/// A token of RON text; comments are skipped. Offsets are byte offsets into the text.
#[derive(Clone, Debug, PartialEq)]
enum Token<'a> {
    /// A string literal at `offset` (its opening quote or `r`), with its value.
    Str(usize, String),
    /// An identifier, keyword or number.
    Word(usize, &'a str),
    /// Any other character (only ASCII punctuation is told apart).
    Punct(usize, u8),
}

impl Token<'_> {
    fn offset(&self) -> usize {
        match self {
            Token::Str(o, _) | Token::Word(o, _) | Token::Punct(o, _) => *o,
        }
    }
}

/// The tokens of RON text, for locating things without parsing: it never fails, whatever the text.
struct Tokens<'a> {
    text: &'a str,
    i: usize,
    /// Byte ranges of comments and string contents (closing quote included) seen so far.
    masked: Vec<(usize, usize)>,
}

impl<'a> Tokens<'a> {
    fn new(text: &'a str) -> Self {
        Tokens { text, i: 0, masked: Vec::new() }
    }

    /// Skips whitespace and comments.
    fn skip_blank(&mut self) {
        let b = self.text.as_bytes();
        loop {
            while self.i < b.len() && b[self.i].is_ascii_whitespace() {
                self.i += 1;
            }
            if b[self.i..].starts_with(b"//") {
                let start = self.i;
                while self.i < b.len() && b[self.i] != b'\n' {
                    self.i += 1;
                }
                self.masked.push((start, self.i));
            } else if b[self.i..].starts_with(b"/*") {
                let start = self.i;
                let mut depth = 0usize;
                while self.i < b.len() {
                    if b[self.i..].starts_with(b"/*") {
                        depth += 1;
                        self.i += 2;
                    } else if b[self.i..].starts_with(b"*/") {
                        depth -= 1;
                        self.i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        self.i += 1;
                    }
                }
                self.masked.push((start, self.i.min(b.len())));
            } else {
                return;
            }
        }
    }

    /// A `"…"` string starting at the quote at `self.i`, decoded as RON does (unknown escapes kept).
    fn quoted(&mut self) -> String {
        let b = self.text.as_bytes();
        let start = self.i;
        self.i += 1;
        let mut value = String::new();
        while self.i < b.len() && b[self.i] != b'"' {
            if b[self.i] == b'\\' && self.i + 1 < b.len() {
                let (c, len) = unescape(&self.text[self.i + 1..]);
                value.extend(c);
                self.i += 1 + len;
            } else {
                let c = self.text[self.i..].chars().next().unwrap_or('\u{fffd}');
                value.push(c);
                self.i += c.len_utf8();
            }
        }
        self.i = (self.i + 1).min(b.len());
        self.masked.push((start + 1, self.i));
        value
    }

    /// A raw string `r#"…"#` starting at the `r` at `self.i`, if there is one.
    fn raw(&mut self) -> Option<String> {
        let b = self.text.as_bytes();
        let hashes = b[self.i + 1..].iter().take_while(|&&c| c == b'#').count();
        let open = self.i + 1 + hashes;
        if b.get(open) != Some(&b'"') {
            return None;
        }
        let close = format!("\"{}", "#".repeat(hashes));
        let end = self.text[open + 1..].find(&close).map_or(b.len(), |p| open + 1 + p);
        let value = self.text[open + 1..end].to_string();
        self.i = (end + close.len()).min(b.len());
        self.masked.push((open + 1, self.i));
        Some(value)
    }
}

/// The character an escape stands for (the text after the backslash), and how many bytes it takes.
fn unescape(rest: &str) -> (Option<char>, usize) {
    let mut chars = rest.chars();
    let Some(c) = chars.next() else { return (None, 0) };
    let simple = match c {
        'n' => Some('\n'),
        't' => Some('\t'),
        'r' => Some('\r'),
        '0' => Some('\0'),
        '\\' | '"' | '\'' | '/' => Some(c),
        _ => None,
    };
    if let Some(s) = simple {
        return (Some(s), 1);
    }
    let hex = |digits: &str| u32::from_str_radix(digits, 16).ok().and_then(char::from_u32);
    if c == 'u' && rest[1..].starts_with('{') {
        if let Some((close, _)) = rest.char_indices().take(12).find(|&(_, c)| c == '}') {
            return (hex(&rest[2..close]), close + 1);
        }
    } else if c == 'u' && rest.len() >= 5 && rest.is_char_boundary(5) {
        return (hex(&rest[1..5]), 5);
    } else if c == 'x' && rest.len() >= 3 && rest.is_char_boundary(3) {
        return (hex(&rest[1..3]), 3);
    }
    (Some(c), c.len_utf8())
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        self.skip_blank();
        let b = self.text.as_bytes();
        let start = self.i;
        let c = *b.get(start)?;
        if c == b'"' {
            return Some(Token::Str(start, self.quoted()));
        }
        if c == b'r'
            && matches!(b.get(start + 1), Some(b'"' | b'#'))
            && let Some(value) = self.raw()
        {
            return Some(Token::Str(start, value));
        }
        if c == b'\'' {
            // A character literal: 'x', '\n' or a multi-byte character.
            self.i = b[start + 1..].iter().take(12).position(|&q| q == b'\'').map_or(start + 1, |p| start + 2 + p);
            return Some(Token::Punct(start, c));
        }
        let word = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'+' | b'-');
        if word(c) {
            while self.i < b.len() && word(b[self.i]) {
                self.i += 1;
            }
            return Some(Token::Word(start, &self.text[start..self.i]));
        }
        let len = self.text[start..].chars().next().map_or(1, char::len_utf8);
        self.i += len;
        Some(Token::Punct(start, c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(text: &str) -> SourceMap {
        SourceMap::new(Path::new("t.ron"), text.to_string())
    }

    #[test]
    fn ids_are_found_however_they_are_written_and_never_in_comments() {
        let src = map("// id: \"a\"\n(id:\"a\", x: [(id: r#\"b c\"#), (id: \"d\\ne\"), (id : \"a\")])");
        assert_eq!(src.locate_id("a", 0), Some((2, 5)));
        assert_eq!(src.locate_id("a", 1), Some((2, 50)));
        assert_eq!(src.locate_id("b c", 0), Some((2, 19)));
        assert_eq!(src.locate_id("d\ne", 0), Some((2, 35)));
        assert_eq!(src.locate_id("zz", 0), None);
    }

    #[test]
    fn text_in_comments_and_strings_is_skipped() {
        let src = map("// step: 1\n(name: \"step: 2\", /* step: 3 */ step: 4)");
        assert_eq!(src.locate_text("step:"), Some((2, 33)));
        assert_eq!(src.locate_text("\"step: 2\""), Some((2, 8)));
    }

    #[test]
    fn list_elements_are_found_by_index() {
        let src = map("(events: [(at: 1.0, action: A(\"x\")), /* , */ (at: 2.0, action: B(\"y, ]\"))], z: 1)");
        let (a, b) = src.element_span("events", 1).unwrap();
        assert_eq!(&src.text[a..b], "(at: 2.0, action: B(\"y, ]\"))");
        assert_eq!(src.element_span("events", 2), None);
        assert_eq!(src.locate_event_target(1, "y, ]"), (1, 66));
    }

    #[test]
    fn any_text_can_be_scanned() {
        for text in ["\"", "r#\"", "/*", "'", "\"\\", "\"\\u{", "r", "(id: \"\\u{110000}\")", "é'\u{0}"] {
            let src = map(text);
            let _ = (src.locate_id("", 0), src.locate_text("x"), src.element_span("events", 0));
        }
    }

    #[test]
    fn huge_and_tiny_numbers_are_written_with_exponents() {
        assert_eq!(number(1e300), "1e300");
        assert_eq!(number(1e-300), "1e-300");
        assert_eq!(number(-1.2), "-1.2");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(f64::NAN), "NaN");
    }
}
