//! `openapi.yaml` agrees with the code: it describes exactly the endpoint table's paths and
//! methods (`authfn::Endpoint::ALL`), declares every path parameter, and names only the error
//! codes `ApiError` answers with, every one of them. An endpoint or an error code cannot be
//! added without the document, nor the document describe one that is gone.
//!
//! These read the repository's files; they need no running server. tests/run.sh also
//! validates the document against the OpenAPI 3.1 schema (`openapi-spec-validator`).

#![allow(
    clippy::unwrap_used,
    reason = "a test's panic is its failure report; clippy.toml covers #[test] bodies, not helpers"
)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use authfn::Endpoint;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn document() -> Value {
    serde_yaml_ng::from_str(&read("openapi.yaml")).expect("openapi.yaml is YAML with string keys")
}

/// The operation keys of an OpenAPI path item.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every (path, METHOD) the document describes.
fn described_operations(doc: &Value) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().expect("paths is a map");
    let mut operations = BTreeSet::new();
    for (path, item) in paths {
        for method in METHODS {
            if item.get(method).is_some() {
                operations.insert((path.clone(), method.to_ascii_uppercase()));
            }
        }
    }
    operations
}

/// Every (path, METHOD) of the endpoint table. `HEAD` (with `GET`) and the CORS preflight
/// `OPTIONS` are the HTTP layer's, described once in the document's introduction.
fn table_operations() -> BTreeSet<(String, String)> {
    Endpoint::ALL
        .iter()
        .flat_map(|e| {
            e.method_names()
                .iter()
                .map(|m| (e.path().to_owned(), (*m).to_owned()))
        })
        .collect()
}

/// The `{name}`s of a templated path.
fn path_parameters(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}

/// The path parameters a path item declares for `method`: its own and the operation's,
/// following a `$ref` to `components/parameters`.
fn declared_path_parameters(doc: &Value, item: &Value, method: &str) -> BTreeSet<String> {
    let listed = |v: &Value| v.as_array().cloned().unwrap_or_default();
    listed(&item["parameters"])
        .into_iter()
        .chain(listed(&item[method]["parameters"]))
        .map(|p| match p["$ref"].as_str() {
            Some(r) => resolve(doc, r).clone(),
            None => p,
        })
        .filter(|p| p["in"] == "path" && p["required"] == true)
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect()
}

/// The value a local `$ref` (`#/a/b`) points to.
fn resolve<'a>(doc: &'a Value, reference: &str) -> &'a Value {
    let pointer = reference
        .strip_prefix('#')
        .unwrap_or_else(|| panic!("{reference}: only local references are used"));
    doc.pointer(pointer)
        .unwrap_or_else(|| panic!("{reference} points at nothing"))
}

/// Every error code the document names: the `ErrorCode` schema's, and each error answer's
/// narrowed `error` enum.
fn named_error_codes(doc: &Value) -> BTreeSet<String> {
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(map) => {
                if let Some(codes) = map
                    .get("properties")
                    .and_then(|p| p.get("error"))
                    .and_then(|e| e.get("enum"))
                    .and_then(Value::as_array)
                {
                    out.extend(codes.iter().filter_map(|c| c.as_str().map(str::to_owned)));
                }
                map.values().for_each(|v| walk(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut codes = error_code_schema(doc);
    walk(doc, &mut codes);
    codes
}

/// The `ErrorCode` schema's enum: the list of every code.
fn error_code_schema(doc: &Value) -> BTreeSet<String> {
    doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("components.schemas.ErrorCode.enum")
        .iter()
        .map(|c| c.as_str().expect("a code is a string").to_owned())
        .collect()
}

/// The string literals a match in `source` maps to, in the function whose signature starts
/// with `signature`: the arms `Variant => "code",` of `ApiError::code` and
/// `OAuthErrorCode::as_str`.
fn match_arm_strings(source: &str, signature: &str) -> BTreeSet<String> {
    let start = source
        .find(signature)
        .unwrap_or_else(|| panic!("{signature} is gone"));
    let body = &source[start..];
    // The function ends at the first line that closes an `impl` member: four spaces and `}`.
    let end = body.find("\n    }\n").expect("the function ends");
    body[..end]
        .lines()
        .filter_map(|line| line.split_once("=> \"")?.1.split_once('"'))
        .map(|(code, _)| code.to_owned())
        .collect()
}

/// Every code `ApiError` answers with: its own, and RFC 6749's for the OAuth endpoints.
fn api_error_codes() -> BTreeSet<String> {
    let mut codes = match_arm_strings(
        &read("shared/src/error.rs"),
        "pub fn code(&self) -> &'static str",
    );
    codes.extend(match_arm_strings(
        &read("shared/src/oauth/error.rs"),
        "pub fn as_str(self) -> &'static str",
    ));
    codes
}

/// The arms of the `match self` in the function of `source` whose signature starts with
/// `signature`: each arm's variants (`A(_) | B { .. }` → `A`, `B`) and its result, as written.
fn match_arms(source: &str, signature: &str) -> Vec<(Vec<String>, String)> {
    let start = source
        .find(signature)
        .unwrap_or_else(|| panic!("{signature} is gone"));
    let body = &source[start..];
    let body = &body[..body.find("\n    }\n").expect("the function ends")];
    let body = &body[body.find("match self {").expect("a match on self") + "match self {".len()..];
    let text = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let parts: Vec<&str> = text.split(" => ").collect();
    let variants = |patterns: &str| -> Vec<String> {
        patterns
            .split('|')
            .filter_map(|p| {
                let name: String = p
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                (!name.is_empty()).then_some(name)
            })
            .collect()
    };
    let mut arms = Vec::new();
    let mut patterns = parts[0];
    for part in &parts[1..] {
        let part = part.trim();
        // A result is `expr,` or a block `{ expr }`; the next arm's patterns follow it.
        let (result, rest) = match part.strip_prefix('{') {
            Some(block) => block.split_once('}').expect("the block closes"),
            None => part.split_once(',').unwrap_or((part, "")),
        };
        arms.push((variants(patterns), result.trim().to_owned()));
        patterns = rest.trim_start_matches(',');
    }
    arms
}

/// The statuses each error code is answered with, read from `ApiError::code` and
/// `ApiError::status` (a code can have several: `invalid_code` is 400 for a mailed code and 401
/// for a second factor). RFC 6749's codes are 400, `invalid_client` 401 (`OAuthErrorCode::status`).
fn statuses_by_code() -> std::collections::BTreeMap<String, BTreeSet<u16>> {
    let source = read("shared/src/error.rs");
    let status_of: std::collections::BTreeMap<String, String> =
        match_arms(&source, "pub fn status(&self) -> StatusCode")
            .into_iter()
            .flat_map(|(variants, result)| variants.into_iter().map(move |v| (v, result.clone())))
            .collect();
    let oauth_codes = match_arm_strings(
        &read("shared/src/oauth/error.rs"),
        "pub fn as_str(self) -> &'static str",
    );
    let oauth_status = |code: &str| if code == "invalid_client" { 401 } else { 400 };
    let mut statuses: std::collections::BTreeMap<String, BTreeSet<u16>> = Default::default();
    for (variants, result) in match_arms(&source, "pub fn code(&self) -> &'static str") {
        for variant in variants {
            let status = &status_of[&variant];
            let codes: Vec<String> = match result.strip_prefix('"') {
                Some(code) => vec![code.trim_end_matches('"').to_owned()],
                None if result == "code.as_str()" => oauth_codes.iter().cloned().collect(),
                None if result == "OAuthErrorCode::InvalidClient.as_str()" => {
                    vec!["invalid_client".to_owned()]
                }
                None => panic!("{variant}'s code is {result}: teach this test to read it"),
            };
            for code in codes {
                let number = match status.as_str() {
                    "code.status()" => oauth_status(&code),
                    "OAuthErrorCode::InvalidClient.status()" => 401,
                    named => status_number(named.trim_start_matches("StatusCode::")),
                };
                statuses.entry(code).or_default().insert(number);
            }
        }
    }
    statuses
}

/// The number of a `http::StatusCode` constant.
fn status_number(name: &str) -> u16 {
    match name {
        "BAD_REQUEST" => 400,
        "UNAUTHORIZED" => 401,
        "FORBIDDEN" => 403,
        "NOT_FOUND" => 404,
        "METHOD_NOT_ALLOWED" => 405,
        "CONFLICT" => 409,
        "PAYLOAD_TOO_LARGE" => 413,
        "URI_TOO_LONG" => 414,
        "UNSUPPORTED_MEDIA_TYPE" => 415,
        "LOCKED" => 423,
        "TOO_MANY_REQUESTS" => 429,
        "INTERNAL_SERVER_ERROR" => 500,
        "BAD_GATEWAY" => 502,
        "SERVICE_UNAVAILABLE" => 503,
        other => panic!("StatusCode::{other}: add it to status_number"),
    }
}

/// Every (operation, status, code) of the document's error answers.
fn documented_error_answers(doc: &Value) -> Vec<(String, u16, String)> {
    let mut answers = Vec::new();
    for (path, method) in described_operations(doc) {
        let op = &doc["paths"][&path][method.to_ascii_lowercase()];
        for (status, response) in op["responses"].as_object().expect("responses") {
            let response = match response["$ref"].as_str() {
                Some(r) => resolve(doc, r),
                None => response,
            };
            let Ok(number) = status.parse::<u16>() else {
                continue;
            };
            let media = response["content"].as_object().into_iter().flatten();
            for (_, content) in media {
                let codes = content["schema"]["properties"]["error"]["enum"].as_array();
                for code in codes.into_iter().flatten() {
                    let code = code.as_str().expect("a code is a string").to_owned();
                    answers.push((format!("{method} {path}"), number, code));
                }
            }
        }
    }
    answers
}

#[test]
fn the_document_describes_exactly_the_endpoint_table() {
    let doc = document();
    let described = described_operations(&doc);
    let table = table_operations();
    let missing: Vec<_> = table.difference(&described).collect();
    let extra: Vec<_> = described.difference(&table).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "openapi.yaml and the endpoint table (shared/src/endpoints/mod.rs) disagree:\n  \
         endpoints the document lacks: {missing:?}\n  \
         operations the table lacks: {extra:?}"
    );
}

#[test]
fn every_path_parameter_is_declared() {
    let doc = document();
    for (path, method) in described_operations(&doc) {
        let item = &doc["paths"][&path];
        let method = method.to_ascii_lowercase();
        let declared = declared_path_parameters(&doc, item, &method);
        let wanted: BTreeSet<String> = path_parameters(&path)
            .into_iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(
            declared, wanted,
            "{method} {path}: the path parameters it declares (required, in: path)"
        );
    }
}

#[test]
fn the_document_names_every_error_code_and_no_other() {
    let doc = document();
    let api = api_error_codes();
    assert!(
        api.len() > 40,
        "error.rs's code() arms were not read: {api:?}"
    );
    let listed = error_code_schema(&doc);
    let unlisted: Vec<_> = api.difference(&listed).collect();
    let gone: Vec<_> = listed.difference(&api).collect();
    assert!(
        unlisted.is_empty() && gone.is_empty(),
        "components.schemas.ErrorCode.enum must list exactly ApiError's codes:\n  \
         codes it lacks: {unlisted:?}\n  codes ApiError no longer has: {gone:?}"
    );
    let unknown: Vec<_> = named_error_codes(&doc).difference(&api).cloned().collect();
    assert!(
        unknown.is_empty(),
        "openapi.yaml answers with codes ApiError does not have: {unknown:?}"
    );
}

#[test]
fn each_error_code_is_documented_under_the_status_apierror_answers_it_with() {
    let statuses = statuses_by_code();
    assert_eq!(
        statuses.keys().cloned().collect::<BTreeSet<_>>(),
        api_error_codes(),
        "error.rs's status() and code() arms were read in full"
    );
    assert_eq!(statuses["invalid_code"], BTreeSet::from([400, 401]));
    assert_eq!(statuses["invalid_client"], BTreeSet::from([401]));
    let wrong: Vec<String> = documented_error_answers(&document())
        .into_iter()
        .filter(|(_, status, code)| !statuses.get(code).is_some_and(|s| s.contains(status)))
        .map(|(op, status, code)| {
            format!(
                "{op}: {code} under {status}, but error.rs answers it with {:?}",
                statuses.get(&code)
            )
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "openapi.yaml puts codes under the wrong status:\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn every_operation_says_what_it_does_and_answers_errors_as_json() {
    let doc = document();
    for (path, method) in described_operations(&doc) {
        let op = &doc["paths"][&path][method.to_ascii_lowercase()];
        assert!(
            op["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{method} {path} needs a one-line summary"
        );
        let responses = op["responses"].as_object().expect("responses");
        for (status, response) in responses {
            let response = match response["$ref"].as_str() {
                Some(r) => resolve(&doc, r),
                None => response,
            };
            let json = &response["content"]["application/json"]["schema"];
            if status.starts_with('4') || status.starts_with('5') {
                // An HTML page (the device page's) is the only other kind of error answer.
                let names_a_code =
                    json.get("$ref").is_some() && json["properties"]["error"]["enum"].is_array();
                assert!(
                    names_a_code || response["content"]["text/html"].is_object(),
                    "{method} {path} {status}: an error answer names its codes (the Error schema, narrowed)"
                );
            }
        }
    }
}

#[test]
fn the_readers_see_a_missing_path_and_an_unknown_code() {
    let doc: Value = serde_yaml_ng::from_str(
        "paths:\n  /auth/session:\n    get:\n      responses:\n        '401':\n          content:\n            application/json:\n              schema: { $ref: '#/x', properties: { error: { enum: [unauthenticated, no_such_code] } } }\ncomponents:\n  schemas:\n    ErrorCode: { enum: [unauthenticated] }\n",
    )
    .unwrap();
    let described = described_operations(&doc);
    assert_eq!(
        described,
        BTreeSet::from([("/auth/session".to_owned(), "GET".to_owned())])
    );
    assert!(table_operations().difference(&described).count() > 30);
    assert!(named_error_codes(&doc).contains("no_such_code"));
    assert_eq!(
        path_parameters("/auth/federation/{provider}/begin"),
        ["provider"]
    );
    let source = "impl E {\n    pub fn code(&self) -> &'static str {\n        match self {\n            A => \"a\",\n            B | C => \"b_c\",\n        }\n    }\n\n    fn other() { x => \"not_a_code\" }\n}\n";
    assert_eq!(
        match_arm_strings(source, "pub fn code(&self)"),
        BTreeSet::from(["a".to_owned(), "b_c".to_owned()])
    );
    let status = "    pub fn status(&self) -> StatusCode {\n        match self {\n            A(_) | B { .. } => {\n                StatusCode::BAD_REQUEST\n            }\n            C => code.status(),\n        }\n    }\n";
    assert_eq!(
        match_arms(status, "pub fn status"),
        [
            (
                vec!["A".to_owned(), "B".to_owned()],
                "StatusCode::BAD_REQUEST".to_owned()
            ),
            (vec!["C".to_owned()], "code.status()".to_owned()),
        ]
    );
}

#[test]
fn the_activity_event_types_are_the_ones_a_user_sees() {
    let doc = document();
    let listed: BTreeSet<String> = doc["components"]["schemas"]["ActivityEventType"]["enum"]
        .as_array()
        .expect("components.schemas.ActivityEventType.enum")
        .iter()
        .map(|t| t.as_str().expect("a type is a string").to_owned())
        .collect();
    let shown: BTreeSet<String> = authfn::events::EventType::ALL
        .iter()
        .filter(|t| t.shows_in_activity())
        .map(|t| t.name().to_owned())
        .collect();
    assert_eq!(
        listed, shown,
        "ActivityEventType must list exactly the event types whose shows_in_activity is true \
         (shared/src/events/mod.rs)"
    );
}
