//! The nats-server configuration format, as Go's `conf/lex.go` and
//! `conf/parse.go` read it, by recursive descent over the text.
//!
//! The lexer decides a value's type from its spelling, and so does this
//! parser, character class for character class: `4222` is an integer, `1k`
//! the integer 1000, `10s` a string, `127.0.0.1:4222` a string, `1.5` a
//! float, `yes` a boolean, `$NAME` a variable. Where Go's lexer accepts
//! oddities (a lone `/` between values, a stray `}` at the top level), so does
//! this one; where it would lose or garble a value without a word (a quoted
//! string cut by the end of the file, `{ key }`), this one says so.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::scalar;
use super::value::{Entry, Map, Node, Pos, Value};
use super::{Diagnostic, Loader};

/// Deepest nesting of maps, arrays, blocks, includes and environment
/// variables. Go has no limit (and overflows its stack on an include cycle).
const MAX_DEPTH: usize = 64;

type Result<T> = std::result::Result<T, Diagnostic>;

/// What the parsers of a file, its includes and its environment variables
/// share.
pub(super) struct Shared<'l> {
    pub loader: &'l mut dyn Loader,
    /// Environment variables being expanded, to catch `A="$B"`, `B="$A"`.
    expanding: Vec<String>,
    depth: usize,
}

impl<'l> Shared<'l> {
    pub fn new(loader: &'l mut dyn Loader) -> Self {
        Shared {
            loader,
            expanding: Vec::new(),
            depth: 0,
        }
    }
}

/// Parse one file's text. `file` names it in positions; `dir` is where its
/// includes are looked up.
pub(super) fn parse_text(
    text: &str,
    file: Arc<str>,
    dir: PathBuf,
    shared: &mut Shared<'_>,
) -> Result<Map> {
    let mut parser = Parser {
        text,
        at: 0,
        line: 1,
        column: 1,
        file,
        dir,
        scopes: vec![Map::default()],
        shared,
    };
    parser.document()?;
    Ok(parser.scopes.pop().unwrap_or_default())
}

/// Where a key sits: key and value syntax differ slightly between the top
/// level (and a top-level `{ }` block) and a map value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Within {
    Top,
    Block,
    Map,
}

enum Key {
    Named(String),
    Include,
}

struct Parser<'t, 's, 'l> {
    text: &'t str,
    /// Byte offset of the next character.
    at: usize,
    line: u32,
    column: u32,
    file: Arc<str>,
    dir: PathBuf,
    /// The maps being built, outermost first. `$name` looks through them
    /// from the innermost out, as nats-server does (arrays are no scope).
    scopes: Vec<Map>,
    shared: &'s mut Shared<'l>,
}

impl Parser<'_, '_, '_> {
    // ---- characters --------------------------------------------------

    fn peek(&self) -> Option<char> {
        self.text[self.at..].chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        self.text[self.at..].chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn advance_to(&mut self, at: usize) {
        while self.at < at && self.bump().is_some() {}
    }

    fn here(&self) -> Pos {
        Pos {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
        }
    }

    fn error(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(self.here(), message)
    }

    /// Any Unicode white space, new lines included.
    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    /// Spaces and tabs only.
    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.bump();
        }
    }

    fn at_comment(&self) -> bool {
        match self.peek() {
            Some('#') => true,
            Some('/') => self.peek_second() == Some('/'),
            _ => false,
        }
    }

    /// Up to the end of the line; the new line itself stays.
    fn skip_comment(&mut self) {
        while !matches!(self.peek(), None | Some('\n' | '\r')) {
            self.bump();
        }
    }

    fn enter(&mut self) -> Result<()> {
        if self.shared.depth >= MAX_DEPTH {
            return Err(self.error(format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        self.shared.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.shared.depth -= 1;
    }

    fn set(&mut self, entry: Entry) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(entry);
        }
    }

    // ---- structure ---------------------------------------------------

    fn document(&mut self) -> Result<()> {
        loop {
            self.skip_spaces();
            match self.peek() {
                None => return Ok(()),
                Some('{') => {
                    self.bump();
                    self.block()?;
                }
                _ if self.at_comment() => self.skip_comment(),
                Some('/') => {
                    return Err(self.error("unexpected '/': comments start with '#' or '//'"))
                }
                Some(_) => {
                    self.entry(Within::Top)?;
                    self.top_value_end()?;
                }
            }
        }
    }

    fn top_value_end(&mut self) -> Result<()> {
        loop {
            match self.peek() {
                None => return Ok(()),
                _ if self.at_comment() => {
                    self.skip_comment();
                    return Ok(());
                }
                // Go's lexer skips a lone '/' here.
                Some(' ' | '\t' | '/') => {
                    self.bump();
                }
                Some('\n' | '\r' | ';' | ',' | '}') => {
                    self.bump();
                    return Ok(());
                }
                Some(c) => {
                    return Err(self.error(format!(
                        "Expected a top-level value to end with a new line, comment or EOF, \
                         but got '{}' instead.",
                        shown(Some(c))
                    )))
                }
            }
        }
    }

    /// The keys of a top-level `{ ... }` (JSON-like files), after the `{`.
    fn block(&mut self) -> Result<()> {
        self.enter()?;
        let result = self.block_entries();
        self.leave();
        result
    }

    fn block_entries(&mut self) -> Result<()> {
        loop {
            self.skip_spaces();
            match self.peek() {
                // nats-server accepts a file that never closes its '{'.
                None => return Ok(()),
                Some('{') => {
                    self.bump();
                    self.block()?;
                }
                Some('}') => {
                    self.bump();
                    return Ok(());
                }
                _ if self.at_comment() => self.skip_comment(),
                Some('/') => {
                    return Err(self.error("unexpected '/': comments start with '#' or '//'"))
                }
                Some(_) => {
                    self.entry(Within::Block)?;
                    if self.block_value_end()? {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// After a value in a block: true when the block's `}` closed it.
    fn block_value_end(&mut self) -> Result<bool> {
        loop {
            match self.peek() {
                _ if self.at_comment() => self.skip_comment(),
                Some(' ' | '\t' | '/') => {
                    self.bump();
                }
                Some('\n' | '\r' | ';' | ',') => {
                    self.bump();
                    return Ok(false);
                }
                Some('}') => {
                    self.bump();
                    return Ok(true);
                }
                c => {
                    return Err(self.error(format!(
                        "Expected a block-level value to end with a new line, comment or EOF, \
                         but got '{}' instead.",
                        shown(c)
                    )))
                }
            }
        }
    }

    /// One `key = value` (or `include path`), stored in the current map.
    fn entry(&mut self, within: Within) -> Result<()> {
        let key_pos = self.here();
        let key = self.key(within)?;
        self.entry_after_key(within, key, key_pos)
    }

    fn entry_after_key(&mut self, within: Within, key: Key, key_pos: Pos) -> Result<()> {
        let key = match key {
            Key::Include => return self.include(key_pos),
            Key::Named(key) => key,
        };
        // Any white space, new lines too, may sit between a key and its
        // separator; the separator is optional.
        self.skip_spaces();
        let separated = matches!(self.peek(), Some('=' | ':'));
        if separated {
            self.bump();
        }
        if within == Within::Map {
            self.skip_spaces();
            match self.peek() {
                Some(',') => return Err(self.error("Unexpected map value terminator ','.")),
                Some('}') => return Err(no_value(&key, key_pos)),
                _ => {}
            }
        } else if !separated && self.peek().is_none() {
            // A last '}' with nothing after it is allowed, for JSON-like files.
            if key == "}" {
                return Ok(());
            }
            return Err(no_value(&key, key_pos));
        }
        let value = self.value()?;
        self.set(Entry {
            key,
            key_pos,
            value,
            used_as_variable: false,
        });
        Ok(())
    }

    fn key(&mut self, within: Within) -> Result<Key> {
        match self.peek() {
            Some(c @ ('=' | ':')) => Err(self.error(format!("Unexpected key separator '{c}'"))),
            Some(']') if within == Within::Map => {
                Err(self.error("Unexpected array end ']' processing map."))
            }
            Some(quote @ ('"' | '\'')) => {
                let open = self.here();
                self.bump();
                let start = self.at;
                loop {
                    match self.bump() {
                        None => return Err(unclosed("quoted key", quote, open)),
                        Some(c) if c == quote => break,
                        Some(_) => {}
                    }
                }
                Ok(Key::Named(self.text[start..self.at - 1].to_string()))
            }
            _ => self.unquoted_key(within),
        }
    }

    /// A key runs to white space or a separator; its first character is
    /// taken whatever it is. `include` followed by white space is the
    /// include directive.
    fn unquoted_key(&mut self, within: Within) -> Result<Key> {
        let start = self.at;
        if self.bump().is_none() {
            return Err(self.error("Unexpected EOF processing map key."));
        }
        loop {
            match self.peek() {
                None if within == Within::Map => {
                    return Err(self.error("Unexpected EOF processing map key."))
                }
                None | Some('=' | ':') => break,
                Some(c) if c.is_whitespace() => {
                    if self.text[start..self.at].eq_ignore_ascii_case("include") {
                        return Ok(Key::Include);
                    }
                    break;
                }
                Some(_) => {
                    self.bump();
                }
            }
        }
        Ok(Key::Named(self.text[start..self.at].to_string()))
    }

    fn value(&mut self) -> Result<Node> {
        self.skip_blanks();
        let pos = self.here();
        let start = self.at;
        let value = match self.peek() {
            Some('[') => {
                self.bump();
                Value::Array(self.array(&pos)?)
            }
            Some('{') => {
                self.bump();
                Value::Map(self.map(&pos)?)
            }
            Some('\'') => {
                self.bump();
                Value::String(self.single_quoted(&pos)?)
            }
            Some('"') => {
                self.bump();
                Value::String(self.double_quoted(&pos)?)
            }
            Some('(') => {
                self.bump();
                Value::String(self.block_string(&pos)?)
            }
            Some('-') => {
                self.bump();
                self.negative_number(start, &pos)?
            }
            Some(c) if c.is_ascii_digit() => self.number(start, &pos)?,
            Some('.') => return Err(self.error("Floats must start with a digit")),
            Some('\n' | '\r') => return Err(self.error("Expected value but found new line")),
            _ => return self.unquoted(start, pos),
        };
        Ok(Node { value, pos })
    }

    fn array(&mut self, open: &Pos) -> Result<Vec<Node>> {
        self.enter()?;
        let result = self.array_items(open);
        self.leave();
        result
    }

    fn array_items(&mut self, open: &Pos) -> Result<Vec<Node>> {
        let mut items = Vec::new();
        loop {
            match self.peek() {
                None => return Err(unclosed_at_end("array", open)),
                Some(c) if c.is_whitespace() => {
                    self.bump();
                    continue;
                }
                _ if self.at_comment() => {
                    self.skip_comment();
                    continue;
                }
                Some(',' | '/') => return Err(self.error("Unexpected array value terminator ','.")),
                Some(']') => {
                    self.bump();
                    return Ok(items);
                }
                Some(_) => items.push(self.value()?),
            }
            loop {
                match self.peek() {
                    _ if self.at_comment() => self.skip_comment(),
                    Some(' ' | '\t') => {
                        self.bump();
                    }
                    // Go's lexer takes a lone '/' for a separator here.
                    Some(',' | '\n' | '\r' | '/') => {
                        self.bump();
                        break;
                    }
                    Some(']') => {
                        self.bump();
                        return Ok(items);
                    }
                    None => return Err(unclosed_at_end("array", open)),
                    Some(c) => {
                        return Err(self.error(format!(
                            "Expected an array value terminator ',' or an array terminator ']', \
                             but got '{}' instead.",
                            shown(Some(c))
                        )))
                    }
                }
            }
        }
    }

    fn map(&mut self, open: &Pos) -> Result<Map> {
        self.enter()?;
        self.scopes.push(Map::default());
        let result = self.map_entries(open);
        let map = self.scopes.pop().unwrap_or_default();
        self.leave();
        result.map(|()| map)
    }

    fn map_entries(&mut self, open: &Pos) -> Result<()> {
        loop {
            match self.peek() {
                None => return Err(unclosed_at_end("map", open)),
                Some(c) if c.is_whitespace() => {
                    self.bump();
                    continue;
                }
                Some('}') => {
                    self.bump();
                    return Ok(());
                }
                _ if self.at_comment() => {
                    self.skip_comment();
                    continue;
                }
                Some('/') => {
                    // Go's lexer drops a lone '/' before a key and takes
                    // whatever follows as the key.
                    self.bump();
                    let key_pos = self.here();
                    let key = self.unquoted_key(Within::Map)?;
                    self.entry_after_key(Within::Map, key, key_pos)?;
                }
                Some(_) => self.entry(Within::Map)?,
            }
            loop {
                match self.peek() {
                    _ if self.at_comment() => self.skip_comment(),
                    Some(' ' | '\t') => {
                        self.bump();
                    }
                    Some(',' | ';' | '\n' | '\r' | '/') => {
                        self.bump();
                        break;
                    }
                    Some('}') => {
                        self.bump();
                        return Ok(());
                    }
                    None => return Err(unclosed_at_end("map", open)),
                    Some(c) => {
                        return Err(self.error(format!(
                            "Expected a map value terminator ',' or a map terminator '}}', \
                             but got '{}' instead.",
                            shown(Some(c))
                        )))
                    }
                }
            }
        }
    }

    // ---- strings -----------------------------------------------------

    /// A value without quotes, from `start` (a number that turned out to be
    /// a string started earlier) to a space, a new line, `;`, `,`, `]`, `}`
    /// or a `'` (which ends it and is dropped). Backslash escapes work as in
    /// double quotes. Unless escaped or ended by `'`, `true`/`yes`/`on`/...
    /// are booleans and `$name` a variable.
    fn unquoted(&mut self, start: usize, pos: Pos) -> Result<Node> {
        let mut escaped: Option<Vec<u8>> = None;
        let mut run = start;
        loop {
            match self.peek() {
                None | Some('\n' | '\r' | ';' | ',' | ']' | '}' | ' ' | '\t') => break,
                Some('\\') => {
                    let out = escaped.get_or_insert_with(Vec::new);
                    out.extend_from_slice(&self.text.as_bytes()[run..self.at]);
                    self.bump();
                    self.escape(out)?;
                    run = self.at;
                }
                Some('\'') => {
                    let mut out = escaped.unwrap_or_default();
                    out.extend_from_slice(&self.text.as_bytes()[run..self.at]);
                    self.bump();
                    return Ok(Node {
                        value: Value::String(text_of(out)),
                        pos,
                    });
                }
                Some(_) => {
                    self.bump();
                }
            }
        }
        if let Some(mut out) = escaped {
            out.extend_from_slice(&self.text.as_bytes()[run..self.at]);
            return Ok(Node {
                value: Value::String(text_of(out)),
                pos,
            });
        }
        let word = &self.text[start..self.at];
        if let Some(b) = scalar::boolean(word) {
            return Ok(Node {
                value: Value::Bool(b),
                pos,
            });
        }
        if let Some(name) = word.strip_prefix('$') {
            let name = name.to_string();
            return self.variable(&name, pos);
        }
        Ok(Node {
            value: Value::String(word.to_string()),
            pos,
        })
    }

    fn single_quoted(&mut self, open: &Pos) -> Result<String> {
        let start = self.at;
        loop {
            match self.bump() {
                None => return Err(unclosed("string", '\'', open.clone())),
                Some('\'') => return Ok(self.text[start..self.at - 1].to_string()),
                Some(_) => {}
            }
        }
    }

    fn double_quoted(&mut self, open: &Pos) -> Result<String> {
        let mut out = Vec::new();
        let mut run = self.at;
        loop {
            match self.peek() {
                None => return Err(unclosed("string", '"', open.clone())),
                Some('"') => {
                    out.extend_from_slice(&self.text.as_bytes()[run..self.at]);
                    self.bump();
                    return Ok(text_of(out));
                }
                Some('\\') => {
                    out.extend_from_slice(&self.text.as_bytes()[run..self.at]);
                    self.bump();
                    self.escape(&mut out)?;
                    run = self.at;
                }
                Some(_) => {
                    self.bump();
                }
            }
        }
    }

    /// After a backslash: `\t`, `\n`, `\r`, `\"`, `\\` or `\xHH` (a byte).
    fn escape(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let pos = self.here();
        let byte = match self.bump() {
            Some('t') => b'\t',
            Some('n') => b'\n',
            Some('r') => b'\r',
            Some('"') => b'"',
            Some('\\') => b'\\',
            Some('x') => {
                let (hi, lo) = (self.bump(), self.bump());
                if [hi, lo].iter().any(|c| matches!(c, Some('\n' | '\r'))) {
                    return Err(Diagnostic::at(
                        pos,
                        "Expected two hexadecimal digits after '\\x', but hit end of line",
                    ));
                }
                match (
                    hi.and_then(|c| c.to_digit(16)),
                    lo.and_then(|c| c.to_digit(16)),
                ) {
                    // Two hex digits are at most 0xff.
                    (Some(h), Some(l)) => (h * 16 + l) as u8,
                    _ => {
                        let got: String = [hi, lo].iter().flatten().collect();
                        return Err(Diagnostic::at(
                            pos,
                            format!("Expected two hexadecimal digits after '\\x', but got '{got}'"),
                        ));
                    }
                }
            }
            c => {
                return Err(Diagnostic::at(
                    pos,
                    format!(
                        "Invalid escape character '{}'. Only the following escape characters \
                         are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.",
                        shown(c)
                    ),
                ))
            }
        };
        out.push(byte);
        Ok(())
    }

    /// `( ... )`: everything after the `(` up to a `)` alone at the start of
    /// a line (followed by a new line or the end of the file), taken as is.
    /// At the very end of the file nats-server keeps the `)` in the value;
    /// so does natsd, so that a password written so means the same to both.
    fn block_string(&mut self, open: &Pos) -> Result<String> {
        let body = &self.text[self.at..];
        let mut from = 0;
        let end = loop {
            let Some(found) = body[from..].find(')') else {
                return Err(Diagnostic::at(
                    open.clone(),
                    "Unexpected EOF processing block: a block string ends with ')' alone on a line",
                ));
            };
            let close = from + found;
            let line_start = body[..close].ends_with('\n');
            let line_end = matches!(body.as_bytes().get(close + 1), None | Some(b'\n'));
            if line_start && line_end {
                break close;
            }
            from = close + 1;
        };
        let value_end = if end + 1 == body.len() { end + 1 } else { end };
        let value = body[..value_end].to_string();
        self.advance_to(self.at + end + 1);
        Ok(value)
    }

    // ---- numbers -----------------------------------------------------

    /// A value starting with a digit: an integer (maybe with a size suffix),
    /// a float, an IP address (`127.0.0.1:4222`, a string), a datetime, or a
    /// string that merely starts with a digit (`10s`).
    fn number(&mut self, start: usize, pos: &Pos) -> Result<Value> {
        self.bump();
        loop {
            match self.peek() {
                Some('-') => {
                    self.bump();
                    if self.at - start != 5 {
                        return Err(self.error("All ISO8601 dates must be in full Zulu form."));
                    }
                    return self.datetime(start);
                }
                Some(c) if c.is_ascii_digit() => {
                    self.bump();
                }
                Some('.') => {
                    self.bump();
                    return self.float_or_address(start, pos);
                }
                Some(c) if is_size_suffix(c) => {
                    self.bump();
                    return self.sized_integer(start, pos);
                }
                None | Some('\n' | '\r' | '}' | ';' | ',' | ' ' | '\t') => {
                    return self.integer(start, pos)
                }
                Some(_) => {
                    // Go's lexer takes this character into the string
                    // whatever it is: `1]` is the string "1]", `1'x` "1'x".
                    self.bump();
                    return self.unquoted(start, pos.clone()).map(|n| n.value);
                }
            }
        }
    }

    /// After a leading `-`: an integer or a float, nothing else.
    fn negative_number(&mut self, start: usize, pos: &Pos) -> Result<Value> {
        match self.peek() {
            Some(c) if c.is_ascii_digit() => {}
            Some('.') => return Err(self.error("Floats must start with a digit, not '.'.")),
            c => {
                return Err(self.error(format!("Expected a digit but got '{}'.", shown(c))));
            }
        }
        loop {
            match self.peek() {
                Some(c) if c.is_ascii_digit() => {
                    self.bump();
                }
                Some('.') => {
                    self.bump();
                    return self.float_or_address(start, pos);
                }
                Some(c) if is_size_suffix(c) => {
                    self.bump();
                    return self.sized_integer(start, pos);
                }
                _ => return self.integer(start, pos),
            }
        }
    }

    /// After a suffix letter: `b`s and `i`s (`1KiB`), then the value must
    /// end, or it is a string after all (`1kx`).
    fn sized_integer(&mut self, start: usize, pos: &Pos) -> Result<Value> {
        while matches!(self.peek(), Some('b' | 'B' | 'i' | 'I')) {
            self.bump();
        }
        match self.peek() {
            None | Some('\n' | '\r' | '}' | ';' | ',' | ' ' | '\t') => self.integer(start, pos),
            Some(c) if c.is_ascii_digit() => self.integer(start, pos),
            Some(_) => self.unquoted(start, pos.clone()).map(|n| n.value),
        }
    }

    fn integer(&self, start: usize, pos: &Pos) -> Result<Value> {
        scalar::integer(&self.text[start..self.at])
            .map(Value::Integer)
            .map_err(|e| Diagnostic::at(pos.clone(), e))
    }

    /// After `digits.`: a float, or with a second dot an address such as
    /// `127.0.0.1:4222` (a string).
    fn float_or_address(&mut self, start: usize, pos: &Pos) -> Result<Value> {
        match self.peek() {
            Some(c) if c.is_ascii_digit() => {}
            c => {
                return Err(self.error(format!(
                    "Floats must have a digit after the '.', but got '{}' instead.",
                    shown(c)
                )))
            }
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        if self.peek() == Some('.') {
            while matches!(self.peek(), Some('0'..='9' | '.' | ':' | '-')) {
                self.bump();
            }
            return Ok(Value::String(self.text[start..self.at].to_string()));
        }
        let text = &self.text[start..self.at];
        scalar::float(text)
            .map(Value::Float)
            .map_err(|e| Diagnostic::at(pos.clone(), e))
    }

    /// After `YYYY-`: the rest of `YYYY-MM-DDTHH:MM:SSZ`.
    fn datetime(&mut self, start: usize) -> Result<Value> {
        for expected in "00-00T00:00:00Z".chars() {
            let got = self.peek();
            let fits = match expected {
                '0' => got.is_some_and(|c| c.is_ascii_digit()),
                _ => got == Some(expected),
            };
            if !fits {
                let wanted = match expected {
                    '0' => "digit".to_string(),
                    c => format!("'{c}'"),
                };
                return Err(self.error(format!(
                    "Expected {wanted} in ISO8601 datetime, but found '{}' instead.",
                    shown(got)
                )));
            }
            self.bump();
        }
        let text = &self.text[start..self.at];
        scalar::datetime(text).map_err(|e| self.error(e))?;
        Ok(Value::Datetime(text.to_string()))
    }

    // ---- variables and includes --------------------------------------

    /// `$name`: the nearest enclosing map's earlier `name` key, else the
    /// environment variable, whose text is read as a value would be.
    fn variable(&mut self, name: &str, pos: Pos) -> Result<Node> {
        // An unquoted bcrypt hash ($2a$...) is a string, not a variable.
        if name.starts_with("2a$") {
            return Ok(Node {
                value: Value::String(format!("${name}")),
                pos,
            });
        }
        for scope in self.scopes.iter_mut().rev() {
            if let Some(entry) = scope.get_mut(name) {
                entry.used_as_variable = true;
                return Ok(Node {
                    value: entry.value.value.clone(),
                    pos,
                });
            }
        }
        let line = pos.line;
        let unparsable = |why: &str| {
            Diagnostic::at(
                pos.clone(),
                format!(
                    "variable reference for '{name}' on line {line} could not be parsed: {why}"
                ),
            )
        };
        if self.shared.expanding.iter().any(|n| n == name) {
            return Err(unparsable(&format!(
                "variable reference cycle for '{name}'"
            )));
        }
        let Some(text) = self.shared.loader.env(name) else {
            return Err(Diagnostic::at(
                pos.clone(),
                format!("variable reference for '{name}' on line {line} can not be found"),
            ));
        };
        self.enter()?;
        self.shared.expanding.push(name.to_string());
        let parsed = parse_text(
            &format!("pk={text}"),
            Arc::from(format!("${name}")),
            PathBuf::new(),
            self.shared,
        );
        self.shared.expanding.pop();
        self.leave();
        let map = parsed.map_err(|e| unparsable(&e.message))?;
        match map.get("pk") {
            Some(entry) => Ok(Node {
                value: entry.value.value.clone(),
                pos,
            }),
            None => Err(Diagnostic::at(
                pos.clone(),
                format!("variable reference for '{name}' on line {line} can not be found"),
            )),
        }
    }

    /// `include path`: the keys of the file at `path` (relative to this
    /// file's directory) are set here, as if written in its place.
    fn include(&mut self, pos: Pos) -> Result<()> {
        self.skip_blanks();
        let path = self.include_path()?;
        let full = join_include(&self.dir, &path);
        self.enter()?;
        let text = match self.shared.loader.read(&full) {
            Ok(text) => text,
            Err(e) => {
                self.leave();
                return Err(Diagnostic::at(
                    pos,
                    format!("error parsing include file '{path}', {e}"),
                ));
            }
        };
        let file: Arc<str> = Arc::from(full.display().to_string());
        let dir = full.parent().map(Path::to_path_buf).unwrap_or_default();
        let parsed = parse_text(&text, file, dir, self.shared);
        self.leave();
        let included = parsed.map_err(|e| Diagnostic {
            message: format!("{} (in '{path}', included at {pos})", e.message),
            ..e
        })?;
        for entry in included.entries() {
            self.set(entry.clone());
        }
        Ok(())
    }

    fn include_path(&mut self) -> Result<String> {
        let refuse =
            |p: &Self, what: &str| Err(p.error(format!("Expected include value but found {what}")));
        match self.peek() {
            Some(quote @ ('"' | '\'')) => {
                let open = self.here();
                self.bump();
                let start = self.at;
                loop {
                    match self.bump() {
                        None => return Err(unclosed("include", quote, open)),
                        Some(c) if c == quote => {
                            return Ok(self.text[start..self.at - 1].to_string())
                        }
                        Some(_) => {}
                    }
                }
            }
            Some('[') => refuse(self, "start of an array"),
            Some('{') => refuse(self, "start of a map"),
            Some('(') => refuse(self, "start of a block"),
            Some('-') => refuse(self, "start of a number"),
            Some(c) if c.is_ascii_digit() => refuse(self, "start of a number"),
            Some('\\') => refuse(self, "escape sequence"),
            Some('\n' | '\r') => refuse(self, "new line"),
            _ => {
                let start = self.at;
                loop {
                    match self.peek() {
                        None | Some('\n' | '\r' | ';' | '}' | ' ' | '\t') => {
                            return Ok(self.text[start..self.at].to_string())
                        }
                        Some('\'') => {
                            let path = self.text[start..self.at].to_string();
                            self.bump();
                            return Ok(path);
                        }
                        Some(_) => {
                            self.bump();
                        }
                    }
                }
            }
        }
    }
}

/// Go joins an include's path to the including file's directory even when
/// the path is absolute (`filepath.Join("/etc/nats", "/x.conf")` is
/// `/etc/nats/x.conf`); so does natsd, so the same files are read.
fn join_include(dir: &Path, path: &str) -> PathBuf {
    dir.join(path.trim_start_matches('/'))
}

fn is_size_suffix(c: char) -> bool {
    matches!(c.to_ascii_lowercase(), 'k' | 'm' | 'g' | 't' | 'p' | 'e')
}

/// Bytes from escapes (`\xff`) may not be UTF-8; such bytes become U+FFFD.
fn text_of(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// A character for an error message: new lines and the end shown by name.
fn shown(c: Option<char>) -> String {
    match c {
        None => "EOF".into(),
        Some('\n') => "\\n".into(),
        Some('\r') => "\\r".into(),
        Some('\t') => "\\t".into(),
        Some(c) => c.to_string(),
    }
}

fn no_value(key: &str, pos: Pos) -> Diagnostic {
    Diagnostic::at(
        pos,
        format!(
            "config is invalid: key '{}' has no value",
            key.escape_debug()
        ),
    )
}

fn unclosed(what: &str, quote: char, open: Pos) -> Diagnostic {
    Diagnostic::at(
        open,
        format!("Unexpected EOF: the {what} opened here has no closing {quote}"),
    )
}

fn unclosed_at_end(what: &str, open: &Pos) -> Diagnostic {
    let close = if what == "array" { ']' } else { '}' };
    Diagnostic::at(
        open.clone(),
        format!(
            "Unexpected EOF processing {what}: the {what} opened here has no closing '{close}'"
        ),
    )
}
