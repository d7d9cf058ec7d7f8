//! JSON as nats-server writes it: indented by two spaces (Go's
//! `json.MarshalIndent(v, "", "  ")`), `<`, `>` and `&` escaped as Go
//! escapes them, whole floats without a fraction, and long lists rendered a
//! slice at a time so one response never holds the reactor for long.

use std::time::Instant;

use serde::{Serialize, Serializer};

use crate::core::Core;

/// `value` indented as nats-server indents it.
pub fn pretty(value: &impl Serialize) -> Vec<u8> {
    // Serializing into a Vec fails only for maps with non-string keys,
    // which no monitoring type has.
    let mut out = serde_json::to_vec_pretty(value).unwrap_or_default();
    go_escape(&mut out);
    out
}

/// Go's encoder escapes `<`, `>`, `&`, U+2028 and U+2029 in strings
/// (`"events.\u003e"`); serde_json writes them as they are. Outside
/// strings JSON has none of them, so they are replaced wherever they are.
pub fn go_escape(json: &mut Vec<u8>) {
    // U+2028 and U+2029 are E2 80 A8 and E2 80 A9 in UTF-8.
    let special = |b: &u8| matches!(b, b'<' | b'>' | b'&' | 0xE2);
    let Some(first) = json.iter().position(special) else {
        return;
    };
    let mut out = Vec::with_capacity(json.len() + 16);
    out.extend_from_slice(&json[..first]);
    let mut i = first;
    while i < json.len() {
        let b = json[i];
        let escape: Option<&[u8]> = match b {
            b'<' => Some(b"\\u003c"),
            b'>' => Some(b"\\u003e"),
            b'&' => Some(b"\\u0026"),
            0xE2 if json[i..].starts_with(&[0xE2, 0x80, 0xA8]) => Some(b"\\u2028"),
            0xE2 if json[i..].starts_with(&[0xE2, 0x80, 0xA9]) => Some(b"\\u2029"),
            _ => None,
        };
        match escape {
            Some(text) => {
                out.extend_from_slice(text);
                i += if b == 0xE2 { 3 } else { 1 };
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    *json = out;
}

/// Go writes a float64 with no fraction as an integer (`2`, not `2.0`).
pub fn go_float<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        s.serialize_i64(*value as i64)
    } else {
        s.serialize_f64(*value)
    }
}

pub fn is_false(b: &bool) -> bool {
    !*b
}

pub fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// An object whose last member is a list that may be long (`/connz`'s
/// `connections`, `/subsz`'s `subscriptions_list`): the other members are
/// rendered at once, the items a few at a time by [`JsonList::render`].
/// Each item is turned into what it shows (`to_json`, given the core) only
/// when its turn comes, so copying and formatting are spread out too.
pub struct JsonList<T, F> {
    out: Vec<u8>,
    items: std::vec::IntoIter<T>,
    to_json: F,
    started: bool,
    /// Go's `omitempty`: an empty list leaves the key out.
    omit_empty: bool,
    scratch: Vec<u8>,
}

/// Items rendered between two looks at the clock.
const ITEMS_PER_CLOCK_CHECK: usize = 16;

impl<T, U: Serialize, F: FnMut(&Core, T) -> U> JsonList<T, F> {
    /// `head` (an object) followed by `"key": [to_json(item)...]`.
    pub fn new(
        head: &impl Serialize,
        key: &str,
        items: Vec<T>,
        to_json: F,
        omit_empty: bool,
    ) -> JsonList<T, F> {
        let mut out = pretty(head);
        // Reopen the object: drop its closing "\n}" (or the "}" of "{}").
        let reopened = out.ends_with(b"\n}") && out.len() > 3;
        out.truncate(out.len().saturating_sub(if reopened { 2 } else { 1 }));
        if !(omit_empty && items.is_empty()) {
            if reopened {
                out.push(b',');
            }
            out.extend_from_slice(b"\n  ");
            out.extend_from_slice(serde_json::to_string(key).unwrap_or_default().as_bytes());
            out.extend_from_slice(b": [");
        }
        JsonList {
            out,
            items: items.into_iter(),
            to_json,
            started: false,
            omit_empty,
            scratch: Vec::new(),
        }
    }

    /// Render items until all are done (true) or `deadline` has passed.
    pub fn render(&mut self, core: &Core, deadline: Instant) -> bool {
        loop {
            for _ in 0..ITEMS_PER_CLOCK_CHECK {
                let Some(item) = self.items.next() else {
                    return true;
                };
                let item = (self.to_json)(core, item);
                self.push(&item);
            }
            if Instant::now() >= deadline {
                return false;
            }
        }
    }

    fn push(&mut self, item: &U) {
        self.out
            .extend_from_slice(if self.started { b",\n    " } else { b"\n    " });
        self.started = true;
        self.scratch.clear();
        if serde_json::to_writer_pretty(&mut self.scratch, item).is_err() {
            self.out.extend_from_slice(b"null");
            return;
        }
        go_escape(&mut self.scratch);
        // Nest it two levels down. A JSON string holds no raw newline, so
        // every newline is a line break of the layout.
        for (i, line) in self.scratch.split(|&b| b == b'\n').enumerate() {
            if i > 0 {
                self.out.extend_from_slice(b"\n    ");
            }
            self.out.extend_from_slice(line);
        }
    }

    /// The finished document (call once [`JsonList::render`] returned true).
    pub fn finish(mut self) -> Vec<u8> {
        if self.started {
            self.out.extend_from_slice(b"\n  ]\n}");
        } else if self.omit_empty {
            self.out.extend_from_slice(b"\n}");
        } else {
            self.out.extend_from_slice(b"]\n}");
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use std::time::Duration;

    #[derive(Serialize)]
    struct Head {
        id: &'static str,
        n: u32,
    }

    #[derive(Serialize)]
    struct Whole {
        id: &'static str,
        n: u32,
        list: Vec<Item>,
    }

    #[derive(Serialize, Clone)]
    struct Item {
        a: u32,
        b: Vec<&'static str>,
    }

    fn core() -> Core {
        let info = crate::proto::Info::server("N".into(), "n".into(), "2.15.1", "h", 1, false, 1);
        Core::new(
            crate::Options::ephemeral(),
            info,
            1,
            crate::core::stats::WallClock::new(
                std::time::Instant::now(),
                std::time::SystemTime::now(),
            ),
        )
    }

    fn rendered(items: Vec<Item>, omit_empty: bool) -> String {
        let to_json = |_: &Core, i| i;
        let mut list = JsonList::new(&Head { id: "x", n: 2 }, "list", items, to_json, omit_empty);
        let core = core();
        while !list.render(&core, Instant::now() + Duration::from_millis(1)) {}
        String::from_utf8(list.finish()).unwrap()
    }

    #[test]
    fn a_list_renders_as_the_whole_object_would() {
        let items = vec![
            Item {
                a: 1,
                b: vec!["p", "q"],
            },
            Item { a: 2, b: vec![] },
        ];
        let whole = Whole {
            id: "x",
            n: 2,
            list: items.clone(),
        };
        assert_eq!(
            rendered(items, false),
            String::from_utf8(pretty(&whole)).unwrap()
        );
        let empty = Whole {
            id: "x",
            n: 2,
            list: vec![],
        };
        assert_eq!(
            rendered(vec![], false),
            String::from_utf8(pretty(&empty)).unwrap()
        );
        assert_eq!(
            rendered(vec![], true),
            String::from_utf8(pretty(&Head { id: "x", n: 2 })).unwrap()
        );
    }

    #[test]
    fn rendering_stops_at_the_deadline_and_resumes() {
        let items = vec![7; 100];
        let to_json = |_: &Core, a| Item { a, b: vec![] };
        let mut list = JsonList::new(&Head { id: "x", n: 2 }, "list", items, to_json, false);
        let core = core();
        assert!(
            !list.render(&core, Instant::now()),
            "one batch, then the clock"
        );
        while !list.render(&core, Instant::now()) {}
        let doc: serde_json::Value = serde_json::from_slice(&list.finish()).unwrap();
        assert_eq!(doc["list"].as_array().unwrap().len(), 100);
    }

    #[test]
    fn html_characters_are_escaped_as_go_escapes_them() {
        let json = pretty(&serde_json::json!({"s": "a.> <b> & \u{2028}\u{2029} é"}));
        assert_eq!(
            String::from_utf8(json).unwrap(),
            "{\n  \"s\": \"a.\\u003e \\u003cb\\u003e \\u0026 \\u2028\\u2029 é\"\n}"
        );
        let mut plain = b"{\"a\": 1}".to_vec();
        go_escape(&mut plain);
        assert_eq!(plain, b"{\"a\": 1}");
        let items = vec![Item {
            a: 1,
            b: vec!["x.>"],
        }];
        assert!(rendered(items, false).contains("\"x.\\u003e\""));
    }

    #[test]
    fn whole_floats_as_go_writes_them() {
        #[derive(Serialize)]
        struct F {
            #[serde(serialize_with = "go_float")]
            a: f64,
            #[serde(serialize_with = "go_float")]
            b: f64,
        }
        let json = serde_json::to_string(&F { a: 2.0, b: 0.25 }).unwrap();
        assert_eq!(json, r#"{"a":2,"b":0.25}"#);
    }
}
