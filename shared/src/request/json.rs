//! A JSON request body read into a body type, with refusals a client developer can act on: the
//! member at fault by its JSON path and what JSON it must be, in the API's terms. serde's own
//! messages name Rust types (`expected struct BeginBody`, `u64`) and echo the value sent (`invalid
//! type: string "hunter2"`): neither reaches a client.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

/// `body` as a `T`: 400 `invalid_json` when it is not JSON, 400 `invalid_request` when it is
/// not an object (a body is always one; serde would take an array for a struct's members in
/// order) or a member is missing, repeated or of the wrong kind.
pub(super) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let text = object_text(body)?;
    // The typed read is from the text, not the parsed value: a member given twice is refused
    // there, where a map would keep the last; and the error's position leads to its member.
    serde_json::from_str(text).map_err(|e| refusal(text, &e))
}

/// `body` as text, once it is known to be one JSON object. Syntax is checked first, on its own
/// and in full (UTF-8, escapes, surrogates: what skipping a value does not check), so that every
/// failure of the typed read is about the shape of valid JSON; serde_json reports some of those,
/// like a number for an enum, as syntax.
///
/// Not generic and never inlined, like [`refusal`]: [`parse`] is instantiated for every body
/// type, and the Worker's size is counted (bench/sizes.sh).
#[inline(never)]
fn object_text(body: &[u8]) -> Result<&str, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::InvalidJson("the body is not UTF-8".into()))?;
    let value: Value = serde_json::from_str(text).map_err(|e| ApiError::InvalidJson(syntax(&e)))?;
    if !value.is_object() {
        return Err(ApiError::invalid_field(
            "body",
            format!("must be a JSON object, not {}", kind_of(&value)),
        ));
    }
    Ok(text)
}

/// The 400 for a body of valid JSON that is not the body type: the member at fault and why.
#[inline(never)]
fn refusal(text: &str, e: &serde_json::Error) -> ApiError {
    let path = super::json_path::path_at(text, e.line(), e.column());
    ApiError::invalid_field("body", shape(&path, &e.to_string()))
}

/// serde_json's syntax message without its position suffix, which says nothing a client
/// could not see in its own body; it never quotes the body.
fn syntax(e: &serde_json::Error) -> String {
    let text = e.to_string();
    strip_position(&text).to_owned()
}

/// `text` without serde_json's ` at line L column C`.
fn strip_position(text: &str) -> &str {
    text.rfind(" at line ").map_or(text, |i| &text[..i])
}

/// The JSON kind of `value`, as a message names it.
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Object(_) => "an object",
        Value::Array(_) => "an array",
        Value::String(_) => "a string",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::Null => "null",
    }
}

/// `member`.`field`, or `field` at the top.
fn join(member: &str, field: &str) -> String {
    if member.is_empty() {
        field.to_owned()
    } else {
        format!("{member}.{field}")
    }
}

/// What is wrong with the member at `at`, from serde's message `raw`, in JSON's terms. Only
/// names that come from the body type (member names, an enum's accepted values) are taken from
/// `raw`; never what the client sent.
fn shape(at: &str, raw: &str) -> String {
    let raw = strip_position(raw);
    let subject = if at.is_empty() { "the body" } else { at };
    // The member names in these two come from the body type, not from the client.
    if let Some(field) = backticked(raw, "missing field ") {
        return format!("{} is required", join(at, field));
    }
    if let Some(field) = backticked(raw, "duplicate field ") {
        return format!("{} is given twice", join(at, field));
    }
    if raw.starts_with("unknown variant ")
        && let Some((_, accepted)) = raw.split_once(", expected ")
    {
        // `one of `a`, `b``, `` `a` or `b` ``: the type's own values.
        let accepted = accepted.trim_start_matches("one of ");
        return format!("{subject} must be {accepted}");
    }
    if raw.starts_with("invalid length ") {
        return format!("{subject} has the wrong number of items");
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = raw.strip_prefix(prefix)
            && let Some((got, expected)) = rest.split_once(", expected ")
            && let Some(expected) = json_kind(expected)
        {
            return match sent_kind(got) {
                Some(got) if prefix == "invalid type: " => {
                    format!("{subject} must be {expected}, not {got}")
                }
                _ => format!("{subject} must be {expected}"),
            };
        }
    }
    format!("{subject} has the wrong type")
}

/// The name between backticks after `prefix`: `missing field `email`` → `email`.
fn backticked<'a>(raw: &'a str, prefix: &str) -> Option<&'a str> {
    raw.strip_prefix(prefix)?
        .strip_prefix('`')?
        .split('`')
        .next()
}

/// serde's `expected …` (a Rust type or a visitor's phrase) as the JSON a client must send.
fn json_kind(expected: &str) -> Option<&'static str> {
    let kind = match expected {
        "a string" | "a borrowed string" | "a character" | "string" => "a string",
        "a boolean" | "bool" => "true or false",
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number, 0 or more",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "a sequence" | "a vec" | "an array" => "an array",
        "a map" | "map" => "an object",
        "unit" => "null",
        e if e.starts_with("struct ") => "an object",
        e if e.starts_with("a tuple") || e.starts_with("tuple") => "an array",
        _ => return None,
    };
    Some(kind)
}

/// serde's `Unexpected` (`string "…"`, `integer `5``, `map`) as the JSON kind it was, without
/// the value.
fn sent_kind(got: &str) -> Option<&'static str> {
    let word = got.split([' ', '`']).next()?;
    Some(match word {
        "string" | "char" => "a string",
        "integer" | "floating" => "a number",
        "boolean" => "a boolean",
        "map" => "an object",
        "sequence" => "an array",
        "null" | "unit" => "null",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code, reason = "only deserialized")]
    struct BeginBody {
        email: String,
        #[serde(default)]
        count: Option<u64>,
        #[serde(default)]
        delivery: Option<Delivery>,
        #[serde(default)]
        credential: Option<Credential>,
        #[serde(default)]
        tags: Vec<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Delivery {
        Cookie,
        Token,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code, reason = "only deserialized")]
    struct Credential {
        #[serde(rename = "clientDataJSON")]
        client_data_json: String,
    }

    fn refusal(body: &str) -> (&'static str, String) {
        let e = parse::<BeginBody>(body.as_bytes()).unwrap_err();
        (e.code(), e.message())
    }

    #[test]
    fn an_object_with_the_members_is_read() {
        let body: BeginBody = parse(
            br#" {"email":"a@b.c","count":3,"delivery":"token","credential":{"clientDataJSON":"x"},"tags":["a"],"other":[1]}"#,
        )
        .unwrap();
        assert_eq!(body.count, Some(3));
    }

    #[test]
    fn only_an_object_is_a_body() {
        // serde would read `["a@b.c"]` as the struct's first member.
        for (body, kind) in [
            (r#"["a@b.c"]"#, "an array"),
            (r#""a@b.c""#, "a string"),
            ("true", "a boolean"),
            ("null", "null"),
            (" 12", "a number"),
        ] {
            assert_eq!(
                refusal(body),
                (
                    "invalid_request",
                    format!("body: must be a JSON object, not {kind}")
                ),
                "{body}"
            );
        }
    }

    #[test]
    fn syntax_errors_are_invalid_json_without_the_position() {
        let (code, message) = refusal(r#"{"email": "#);
        assert_eq!(code, "invalid_json");
        assert!(!message.contains("line"), "{message}");
        assert_eq!(refusal("").0, "invalid_json");
        assert_eq!(refusal("{} {}").0, "invalid_json");
        // What skipping a string does not check is still a syntax error, never a shape one.
        assert_eq!(refusal(r#"{"email":"\udc00"}"#).0, "invalid_json");
        let e = parse::<BeginBody>(b"{\"email\":\"\xff\xfe\"}").unwrap_err();
        assert_eq!(
            (e.code(), e.message().as_str()),
            (
                "invalid_json",
                "request body is not valid JSON: the body is not UTF-8"
            )
        );
    }

    #[test]
    fn refusals_name_the_member_and_the_json_it_must_be_never_a_rust_type_or_the_value() {
        let cases = [
            (r#"{}"#, "body: email is required"),
            (r#"{"email":"a","email":"b"}"#, "body: email is given twice"),
            (
                r#"{"email":5}"#,
                "body: email must be a string, not a number",
            ),
            (
                r#"{"email":"a","count":"hunter2"}"#,
                "body: count must be a whole number, 0 or more, not a string",
            ),
            (
                r#"{"email":"a","count":-1}"#,
                "body: count must be a whole number, 0 or more",
            ),
            (
                r#"{"email":"a","delivery":"hunter2"}"#,
                "body: delivery must be `cookie` or `token`",
            ),
            (
                r#"{"email":"a","delivery":5}"#,
                "body: delivery has the wrong type",
            ),
            (
                r#"{"email":"a","credential":"hunter2"}"#,
                "body: credential must be an object, not a string",
            ),
            (
                r#"{"email":"a","credential":{}}"#,
                "body: credential.clientDataJSON is required",
            ),
            (
                r#"{"email":"a","credential":{"clientDataJSON":{"k":"hunter2"}}}"#,
                "body: credential.clientDataJSON must be a string, not an object",
            ),
            (
                r#"{"email":"a","tags":["x",7]}"#,
                "body: tags[1] must be a string, not a number",
            ),
            (
                r#"{"email":"a","tags":"hunter2"}"#,
                "body: tags must be an array, not a string",
            ),
            (
                r#"{"email":["hunter2"]}"#,
                "body: email must be a string, not an array",
            ),
        ];
        for (body, want) in cases {
            let (code, message) = refusal(body);
            assert_eq!(
                (code, message.as_str()),
                ("invalid_request", want),
                "{body}"
            );
            for rust in [
                "struct", "Body", "u64", "sequence", "map", "hunter2", "line",
            ] {
                assert!(!message.contains(rust), "{body}: {message}");
            }
        }
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code, reason = "only deserialized")]
    struct Flattened {
        #[serde(flatten)]
        proof: Proof,
        #[serde(default)]
        password: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code, reason = "only deserialized")]
    struct Proof {
        #[serde(default)]
        token: Option<String>,
    }

    #[test]
    fn a_flattened_body_is_refused_the_same_way() {
        let refusal = |body: &str| parse::<Flattened>(body.as_bytes()).unwrap_err().message();
        assert_eq!(
            refusal(r#"{"token":"a","token":"b"}"#),
            "body: token is given twice"
        );
        let wrong = refusal(r#"{"token":["hunter2"]}"#);
        assert!(
            wrong.starts_with("body: ") && !wrong.contains("hunter2") && !wrong.contains("Proof"),
            "{wrong}"
        );
        assert_eq!(
            refusal(r#"[{"token":"a"}]"#),
            "body: must be a JSON object, not an array"
        );
    }

    /// `body` with a line break and indent after every `{`, `[`, `,` and `:` outside strings.
    fn spread(body: &str) -> String {
        let mut out = String::new();
        let (mut in_string, mut escaped) = (false, false);
        for c in body.chars() {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' if in_string => escaped = true,
                '"' => in_string = !in_string,
                '{' | '[' | ',' | ':' if !in_string => out.push_str("\n  "),
                _ => {}
            }
        }
        out
    }

    /// The path `serde_path_to_error` tracks while reading, as [`json_path::path_at`] writes it.
    fn tracked_path<T: DeserializeOwned + std::fmt::Debug>(body: &str) -> String {
        let mut json = serde_json::Deserializer::from_str(body);
        let e = serde_path_to_error::deserialize::<_, T>(&mut json).unwrap_err();
        let mut out = String::new();
        for segment in e.path() {
            match segment {
                serde_path_to_error::Segment::Map { key } if out.is_empty() => out.push_str(key),
                serde_path_to_error::Segment::Map { key } => out.push_str(&format!(".{key}")),
                serde_path_to_error::Segment::Seq { index } => out.push_str(&format!("[{index}]")),
                _ => {}
            }
        }
        out
    }

    fn found_path<T: DeserializeOwned + std::fmt::Debug>(body: &str) -> String {
        let e = serde_json::from_str::<T>(body).unwrap_err();
        super::super::json_path::path_at(body, e.line(), e.column())
    }

    #[test]
    fn the_member_found_by_position_is_the_one_a_tracking_reader_names() {
        // Not among them: an enum given as an object (`{"delivery":{"token":1}}`), where the
        // two differ. The tracker leaves out the variant's name; the position finds it.
        let bodies = [
            r#"{}"#,
            r#"{"email":"a","email":"b"}"#,
            r#"{"email":5}"#,
            r#"{"email":true}"#,
            r#"{"email":null}"#,
            r#"{"email":"a","count":"hunter2"}"#,
            r#"{"email":"a","count":-1}"#,
            r#"{"email":"a","count":1.5}"#,
            r#"{"email":"a","count":18446744073709551616}"#,
            r#"{"email":"a","delivery":"hunter2"}"#,
            r#"{"email":"a","delivery":5}"#,
            r#"{"email":"a","credential":"hunter2"}"#,
            r#"{"email":"a","credential":{}}"#,
            r#"{"email":"a","credential":{"clientDataJSON":{"k":"hunter2"}}}"#,
            r#"{"email":"a","credential":{"clientDataJSON":"x","clientDataJSON":"y"}}"#,
            r#"{"email":"a","tags":["x",7]}"#,
            r#"{"email":"a","tags":["x","y",[]]}"#,
            r#"{"email":"a","tags":"hunter2"}"#,
            r#"{"email":["hunter2"]}"#,
            r#"{"other":{"deep":[1,{"x":"\"}"}]},"email":{"a":1}}"#,
            r#"{"em\u0061il":7}"#,
            r#"{"tags":[],"count":"1"}"#,
        ];
        for body in bodies {
            for body in [body.to_owned(), spread(body)] {
                assert_eq!(
                    found_path::<BeginBody>(&body),
                    tracked_path::<BeginBody>(&body),
                    "{body}"
                );
            }
        }
    }

    #[test]
    fn serde_phrases_map_to_json_kinds() {
        assert_eq!(json_kind("struct RenameBody"), Some("an object"));
        assert_eq!(json_kind("a tuple of size 2"), Some("an array"));
        assert_eq!(json_kind("i64"), Some("a whole number"));
        assert_eq!(json_kind("something new"), None);
        assert_eq!(
            shape("x", "a message from the future"),
            "x has the wrong type"
        );
        assert_eq!(
            shape("", "invalid length 3, expected 2"),
            "the body has the wrong number of items"
        );
    }
}
