//! Which member of a JSON body a serde_json error is about, as a path
//! (`credential.response.clientDataJSON`, `transports[0]`), found from the error's position.
//!
//! Written by hand rather than tracking the path while reading, as `serde_path_to_error` does:
//! that wraps the deserializer of every body type, and its instantiations were 40 KB of the
//! Worker's wasm, whose size is counted. Here one function reads any body, and only when it
//! was refused.
//!
//! serde_json gives an error the line and column of the byte it would read next, and it stops
//! in one of two places:
//! - after a value it read and the body type then refused (a number or string of the wrong
//!   kind, an unknown enum value, an object missing a member, a number out of range): the
//!   error is right after that value's last byte;
//! - at or just inside a value it did not read (an object or array of the wrong kind, or one
//!   of an enum's values that is not a string): the error is within that value.
//!
//! So the member is the value that ends where the error is, or else the innermost value that
//! holds the error's byte.

/// The path of the member that an error at `line` and `column` (serde_json's, over `text`)
/// is about; empty for the body itself. `text` is valid JSON.
pub(super) fn path_at(text: &str, line: usize, column: usize) -> String {
    let at = offset(text, line, column);
    let values = values(text);
    values
        .iter()
        .find(|v| v.end == at)
        .or_else(|| {
            values
                .iter()
                .filter(|v| v.start <= at && at < v.end)
                .max_by_key(|v| v.depth)
        })
        .map(|v| v.path.clone())
        .unwrap_or_default()
}

/// The byte offset of serde_json's line (from 1) and column (bytes since the line's start).
fn offset(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    line_start + column
}

/// One JSON value of the body: its bytes `start..end`, how deep it is, and its path.
struct Value {
    start: usize,
    end: usize,
    depth: usize,
    path: String,
}

/// An object or array being read: the index of its [`Value`], and where the next member goes.
struct Open {
    value: usize,
    next: Slot,
}

enum Slot {
    /// In an object, before a member's name.
    Name,
    /// In an object, the member named.
    Member(String),
    /// In an array, the item at this index.
    Item(usize),
}

/// Every value in `text`, in the order they start.
fn values(text: &str) -> Vec<Value> {
    let bytes = text.as_bytes();
    let mut values: Vec<Value> = Vec::new();
    let mut open: Vec<Open> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\n' | b'\r' | b':' => i += 1,
            b',' => {
                if let Some(top) = open.last_mut() {
                    top.next = match top.next {
                        Slot::Item(n) => Slot::Item(n + 1),
                        Slot::Name | Slot::Member(_) => Slot::Name,
                    };
                }
                i += 1;
            }
            b'}' | b']' => {
                if let Some(closed) = open.pop() {
                    values[closed.value].end = i + 1;
                }
                i += 1;
            }
            b'"' if matches!(
                open.last(),
                Some(Open {
                    next: Slot::Name,
                    ..
                })
            ) =>
            {
                let end = string_end(bytes, i);
                // Escapes decoded, as the body type matched the name.
                let name = serde_json::from_str(&text[i..end]).unwrap_or_default();
                if let Some(top) = open.last_mut() {
                    top.next = Slot::Member(name);
                }
                i = end;
            }
            first => {
                let path = match open.last() {
                    None => String::new(),
                    Some(parent) => {
                        let at = &values[parent.value].path;
                        match &parent.next {
                            Slot::Item(n) => format!("{at}[{n}]"),
                            Slot::Member(name) if at.is_empty() => name.clone(),
                            Slot::Member(name) => format!("{at}.{name}"),
                            Slot::Name => at.clone(),
                        }
                    }
                };
                let depth = open.len();
                let end = match first {
                    b'{' | b'[' => {
                        open.push(Open {
                            value: values.len(),
                            next: if first == b'{' {
                                Slot::Name
                            } else {
                                Slot::Item(0)
                            },
                        });
                        // Set when it closes.
                        i + 1
                    }
                    b'"' => string_end(bytes, i),
                    // A number, `true`, `false` or `null`: up to what ends it.
                    _ => bytes[i..]
                        .iter()
                        .position(|b| {
                            matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                        })
                        .map_or(bytes.len(), |n| i + n),
                };
                values.push(Value {
                    start: i,
                    end,
                    depth,
                    path,
                });
                i = end;
            }
        }
    }
    values
}

/// One past the closing quote of the string that opens at `start`.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The path at the byte where `marker` starts (with the marker removed from the body).
    fn path_at_marker(body: &str, marker: &str) -> String {
        let at = body.find(marker).unwrap();
        let text = body.replacen(marker, "", 1);
        let line = text[..at].matches('\n').count() + 1;
        let column = at - text[..at].rfind('\n').map_or(0, |n| n + 1);
        path_at(&text, line, column)
    }

    #[test]
    fn a_value_read_is_found_by_where_it_ends() {
        for (body, want) in [
            (r#"{"a":{"b":[1,"x"|],"c":true},"d":null}"#, "a.b[1]"),
            (r#"{"a":{"b":[1,"x"],"c":true|},"d":null}"#, "a.c"),
            (r#"{"a":{"b":[1,"x"],"c":true}|,"d":null}"#, "a"),
            (r#"{"a":{"b":[1,"x"],"c":true},"d":null|}"#, "d"),
            (r#"{"a":{"b":[1,"x"],"c":true},"d":-1.5e3|}"#, "d"),
            (r#"{"a":{"b":[1,"x"],"c":true},"d":null}|"#, ""),
        ] {
            assert_eq!(path_at_marker(body, "|"), want, "{body}");
        }
    }

    #[test]
    fn a_value_not_read_is_found_by_what_holds_the_error() {
        assert_eq!(path_at_marker(r#"{"a":{"b":|["x"]}}"#, "|"), "a.b");
        assert_eq!(path_at_marker(r#"{"a":{"b":|{"c":1}}}"#, "|"), "a.b");
        assert_eq!(path_at_marker(r#"{"a":[{"b":1},|{}]}"#, "|"), "a[1]");
        // An error inside an object between its members is the object's.
        assert_eq!(path_at_marker(r#"{"a":{"b":1,"b"| :2}}"#, "|"), "a");
    }

    #[test]
    fn lines_escapes_and_multi_byte_text_keep_their_place() {
        let body = "{\n  \"n\u{e9}\": \"\u{1F600}\\\"\",\n  \"k\\u0065y\": [\n    12|\n  ]\n}";
        assert_eq!(path_at_marker(body, "|"), "k\u{65}y[0]");
        let body = "{\n  \"n\u{e9}\": \"\u{1F600}\\\"\"|,\n  \"key\": []\n}";
        assert_eq!(path_at_marker(body, "|"), "n\u{e9}");
    }
}
