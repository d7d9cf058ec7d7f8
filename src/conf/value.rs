//! The parsed configuration: a tree of values, each with where it was written.

use std::fmt;
use std::sync::Arc;

/// Where something was written: file, line and column (both from 1; the
/// column counts characters, not bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pos {
    pub file: Arc<str>,
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A value as nats-server's parser types it: the lexer decides (an unquoted
/// `1k` is the integer 1000, `10s` a string, `yes` a boolean).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
    /// An ISO 8601 Zulu datetime (`2024-01-31T12:00:00Z`), validated, kept as
    /// written: no option of natsd's takes one.
    Datetime(String),
    Array(Vec<Node>),
    Map(Map),
}

impl Value {
    /// The type's name for error messages ("expected an integer, got a string").
    pub fn kind(&self) -> &'static str {
        match self {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Bool(_) => "a boolean",
            Value::Datetime(_) => "a datetime",
            Value::Array(_) => "an array",
            Value::Map(_) => "a map",
        }
    }
}

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
}

/// One `key = value` of a map.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// As written: keys are case-sensitive in the tree (and for `$variable`
    /// lookups); nats-server matches option names case-insensitively.
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
    /// Another value referred to this one as `$key`. nats-server does not
    /// call such a key unknown: it may be there only to be referred to.
    pub used_as_variable: bool,
}

/// A map in the order its keys were last set. Setting a key again replaces
/// the earlier value, as nats-server's parser does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Map {
    entries: Vec<Entry>,
}

impl Map {
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry whose key is exactly `key`.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.key == key)
    }

    /// Set `key`; an earlier value of the same key is dropped.
    pub fn insert(&mut self, entry: Entry) {
        self.entries.retain(|e| e.key != entry.key);
        self.entries.push(entry);
    }
}
