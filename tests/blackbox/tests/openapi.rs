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
}
