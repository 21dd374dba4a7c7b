//! The deployment descriptions agree with the endpoint table (`authfn::endpoints`): every
//! endpoint has its function crate, every function crate is deployed by `template.yaml` on its
//! endpoint's path and methods, and the Worker (and wrangler.toml's routes, if any) reach every
//! endpoint. A new endpoint cannot be forgotten in one of them.
//!
//! These read the repository's files; they need no running server.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use authfn::Endpoint;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// Package name of each crate under `functions/`, with its `src/main.rs`.
fn function_crates() -> BTreeMap<String, String> {
    let mut crates = BTreeMap::new();
    for entry in std::fs::read_dir(repo().join("functions")).expect("functions/") {
        let dir = entry.expect("dir entry").path();
        let manifest: toml::Table = read_path(&dir.join("Cargo.toml"))
            .parse()
            .expect("Cargo.toml is TOML");
        let name = manifest["package"]["name"]
            .as_str()
            .expect("package.name")
            .to_owned();
        crates.insert(name, read_path(&dir.join("src/main.rs")));
    }
    crates
}

fn read_path(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The whole `main.rs` of an endpoint's function crate: the endpoint, served, nothing else. Its
/// type, not its `Endpoint` value, so that the binary links no other endpoint's handler.
fn function_main(endpoint: Endpoint) -> String {
    let name = endpoint.function_name();
    // Only the functions that make outbound calls link an HTTPS client.
    let serve = if endpoint.makes_outbound_calls() {
        "serve_with_http_client"
    } else {
        "serve"
    };
    format!(
        "//! `{name}` as an AWS Lambda function. The endpoint's logic lives in `authfn::endpoints`.\n\n\
         // An instance serves one request at a time: one thread, no worker pool to start (README,\n\
         // \"Size and cold start\"); argon2 still runs on tokio's blocking pool.\n\
         #[tokio::main(flavor = \"current_thread\")]\n\
         async fn main() -> Result<(), lambda_http::Error> {{\n    \
         authfn::lambda::{serve}::<authfn::functions::{endpoint:?}>().await\n\
         }}\n"
    )
}

#[test]
fn every_endpoint_has_exactly_one_function_crate_that_serves_it() {
    let crates = function_crates();
    let names: BTreeSet<_> = crates.keys().map(String::as_str).collect();
    let endpoints: BTreeSet<_> = Endpoint::ALL.iter().map(|e| e.function_name()).collect();
    assert_eq!(
        names, endpoints,
        "functions/* and authfn::Endpoint::ALL must name the same functions"
    );
    for endpoint in Endpoint::ALL {
        let expected = function_main(endpoint);
        assert_eq!(
            crates[endpoint.function_name()],
            expected,
            "functions/{}/src/main.rs must be:\n{expected}",
            endpoint.function_name()
        );
    }
}

/// One `AWS::Serverless::Function` of template.yaml: its binary and its HTTP API routes.
#[derive(Debug, Default)]
struct TemplateFunction {
    binary: Option<String>,
    routes: BTreeSet<(String, String)>,
    /// IAM actions and resources of its inline policy statements, all together.
    actions: BTreeSet<String>,
    resources: BTreeSet<String>,
    /// The same, statement by statement.
    statements: Vec<Statement>,
    /// Its own `AUTHFN_*` environment variables (besides the Globals every function gets), as written.
    env: BTreeMap<String, String>,
    /// Its `Policies` entries that are not inline statements (`- !If [...]`), as written.
    policy_refs: BTreeSet<String>,
    /// Whether it sets its own `LoggingConfig` (instead of the Globals').
    own_logging: bool,
}

/// One inline policy statement: its actions and resources, as written, and the condition it
/// is under (`- !If [Condition, statement, !Ref AWS::NoValue]`), if any.
#[derive(Debug, Default, PartialEq, Eq)]
struct Statement {
    actions: BTreeSet<String>,
    resources: BTreeSet<String>,
    condition: Option<String>,
}

/// The functions of a SAM template, read line by line: enough for the flow-style resource
/// blocks template.yaml uses, without a YAML parser that understands CloudFormation's tags.
fn template_functions(template: &str) -> BTreeMap<String, TemplateFunction> {
    let mut functions = BTreeMap::new();
    let mut current: Option<(String, TemplateFunction, bool)> = None;
    let mut in_resources = false;
    // After `- !If`, the condition's name; it applies to the statement that follows.
    let mut condition: Option<Option<String>> = None;
    let mut finish = |current: &mut Option<(String, TemplateFunction, bool)>| {
        if let Some((name, function, true)) = current.take() {
            functions.insert(name, function);
        }
    };
    for line in template.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            finish(&mut current);
            in_resources = line.trim_end() == "Resources:";
            continue;
        }
        if !in_resources {
            continue;
        }
        if let Some(name) = line
            .strip_prefix("  ")
            .filter(|l| !l.starts_with(' '))
            .and_then(|l| l.strip_suffix(':'))
        {
            finish(&mut current);
            current = Some((name.to_owned(), TemplateFunction::default(), false));
            continue;
        }
        let Some((_, function, is_function)) = current.as_mut() else {
            continue;
        };
        let trimmed = line.trim();
        if trimmed == "Type: AWS::Serverless::Function" {
            *is_function = true;
        }
        if let Some(binary) = field(trimmed, "Binary") {
            function.binary = Some(binary);
        }
        if trimmed == "- !If" {
            condition = Some(None);
            continue;
        }
        if let Some(None) = condition {
            condition = Some(trimmed.strip_prefix("- ").map(str::to_owned));
            continue;
        }
        if trimmed.starts_with("- Effect: ") {
            function.statements.push(Statement {
                condition: condition.take().flatten(),
                ..Statement::default()
            });
        }
        // An entry of the Policies list itself (a condition inside a statement is deeper).
        if line.starts_with("        - !") {
            function.policy_refs.insert(trimmed.to_owned());
        }
        if trimmed.starts_with("LoggingConfig:") {
            function.own_logging = true;
        }
        if let Some(actions) = trimmed.strip_prefix("Action: ") {
            let actions = actions
                .strip_prefix('[')
                .and_then(|l| l.strip_suffix(']'))
                .unwrap_or(actions);
            let actions: Vec<String> = actions.split(',').map(|a| a.trim().to_owned()).collect();
            function.actions.extend(actions.iter().cloned());
            if let Some(statement) = function.statements.last_mut() {
                statement.actions.extend(actions);
            }
        }
        if let Some(resource) = trimmed.strip_prefix("Resource: ") {
            function.resources.insert(resource.to_owned());
            if let Some(statement) = function.statements.last_mut() {
                statement.resources.insert(resource.to_owned());
            }
        }
        if let Some((name, value)) = trimmed
            .split_once(": ")
            .filter(|(name, _)| name.starts_with("AUTHFN_"))
        {
            function.env.insert(name.to_owned(), value.to_owned());
        }
        if trimmed.contains("Type: HttpApi")
            && let (Some(method), Some(path)) = (field(trimmed, "Method"), field(trimmed, "Path"))
        {
            function.routes.insert((method, path));
        }
    }
    finish(&mut current);
    functions
}

/// The value of `key: value` inside a line, up to the next `,` or `}` (or its closing quote).
fn field(line: &str, key: &str) -> Option<String> {
    let start = line.find(&format!("{key}: "))? + key.len() + 2;
    let rest = &line[start..];
    // A quoted value (a route with `{provider}`) ends at its closing quote.
    if let Some(quoted) = rest.strip_prefix('"') {
        return quoted.split('"').next().map(str::to_owned);
    }
    Some(rest.split([',', '}']).next()?.trim().to_owned())
}

#[test]
fn the_sam_template_deploys_every_function_on_its_endpoint() {
    let functions = template_functions(&read("template.yaml"));
    let by_binary: BTreeMap<_, _> = functions
        .values()
        .map(|f| {
            (
                f.binary.clone().expect("every function names its Binary"),
                f,
            )
        })
        .collect();
    let crates: BTreeSet<_> = function_crates().into_keys().collect();
    assert_eq!(
        by_binary.keys().cloned().collect::<BTreeSet<_>>(),
        crates,
        "template.yaml deploys exactly functions/*"
    );

    for endpoint in Endpoint::ALL {
        let function = by_binary[endpoint.function_name()];
        let path = endpoint.path().to_owned();
        let expected: BTreeSet<_> = endpoint
            .method_names()
            .iter()
            .chain(&["OPTIONS"])
            .map(|method| (method.to_string(), path.clone()))
            .collect();
        assert_eq!(
            function.routes,
            expected,
            "{}: its endpoint's method and CORS preflight, nothing else",
            endpoint.function_name()
        );
    }
}

/// The one statement that lets a function send mail: SES SendEmail as the configured
/// identity, nothing else.
fn mail_statement() -> Statement {
    Statement {
        actions: ["ses:SendEmail".to_owned()].into(),
        resources: ["!Sub arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${MailIdentity}".to_owned()]
            .into(),
        condition: None,
    }
}

/// The same statement under the `SendsNewDeviceMail` condition: the functions that sign in
/// send mail only with the new-device notice on.
fn new_device_mail_statement() -> Statement {
    Statement {
        condition: Some("SendsNewDeviceMail".to_owned()),
        ..mail_statement()
    }
}

#[test]
fn every_function_gets_only_the_table_access_it_needs() {
    let table = "!GetAtt Table.Arn";
    let index = "!Sub \"${Table.Arn}/index/gsi1\"";
    for (name, function) in template_functions(&read("template.yaml")) {
        let mail = [mail_statement(), new_device_mail_statement()];
        for statement in function.statements.iter().filter(|s| !mail.contains(s)) {
            for action in &statement.actions {
                assert!(
                    action.starts_with("dynamodb:") && !action.contains('*'),
                    "{name}: {action} is not a single DynamoDB action"
                );
                assert_ne!(
                    action, "dynamodb:Scan",
                    "{name}: no function may scan the table"
                );
            }
            for resource in &statement.resources {
                assert!(
                    resource == table || resource == index,
                    "{name}: {resource} is neither the table nor its index"
                );
            }
        }
        // Only the functions that end every session of a user (sign-out-all, and a password
        // reset or change, which delete the ended sessions' records), account-delete
        // (everything naming the user), and those that show a user their own sessions and
        // activity (or end one of those sessions by its id) list through the index; everyone
        // else reads by key (a user's passkeys too: the user item names them).
        let queries =
            function.actions.contains("dynamodb:Query") || function.resources.contains(index);
        let lists = matches!(
            function.binary.as_deref(),
            Some(
                "sign-out-all"
                    | "password-reset"
                    | "password-change"
                    | "account-delete"
                    | "sessions"
                    | "session-revoke"
                    | "activity"
            )
        );
        assert_eq!(queries, lists, "{name}: index access");
    }
}

#[test]
fn exactly_the_functions_that_send_mail_may_send_it_and_only_as_the_mail_identity() {
    let template = read("template.yaml");
    let functions = template_functions(&template);
    let by_binary: BTreeMap<_, _> = functions
        .values()
        .map(|f| (f.binary.clone().unwrap_or_default(), f))
        .collect();
    for endpoint in Endpoint::ALL {
        let name = endpoint.function_name();
        let statements = &by_binary[name].statements;
        let mail = statements
            .iter()
            .filter(|s| **s == mail_statement())
            .count();
        assert_eq!(
            mail,
            usize::from(endpoint.sends_mail()),
            "{name}: the ses:SendEmail statement, exactly when it sends mail"
        );
        let new_device = statements
            .iter()
            .filter(|s| **s == new_device_mail_statement())
            .count();
        assert_eq!(
            new_device,
            usize::from(endpoint.signs_in() && !endpoint.sends_mail()),
            "{name}: ses:SendEmail under SendsNewDeviceMail, exactly when only the new-device notice sends mail"
        );
        let other_ses = statements.iter().any(|s| {
            *s != mail_statement()
                && *s != new_device_mail_statement()
                && s.actions.iter().any(|a| a.starts_with("ses:"))
        });
        assert!(
            !other_ses,
            "{name}: SES access beyond SendEmail as the mail identity"
        );
        assert_eq!(
            by_binary[name]
                .env
                .get("AUTHFN_NEW_DEVICE_MAIL")
                .map(String::as_str),
            endpoint.signs_in().then_some("!Ref NewDeviceMail"),
            "{name}: the new-device setting goes exactly where sign-ins end"
        );
    }
    assert!(
        template.contains("  SendsNewDeviceMail: !Equals [!Ref NewDeviceMail, \"true\"]\n"),
        "the condition is the parameter's"
    );
    // Every function that sends mail reads its From address from the stack's parameter.
    assert!(
        template.contains("        AUTHFN_MAIL_FROM: !Ref MailFrom\n"),
        "Globals give AUTHFN_MAIL_FROM from MailFrom"
    );
}

#[test]
fn the_template_reader_keeps_each_statement_apart() {
    let template = "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Metadata: { BuildMethod: rust-cargolambda, BuildProperties: { Binary: me } }\n    Properties:\n      Policies:\n        - Statement:\n            - Effect: Allow\n              Action: [dynamodb:GetItem]\n              Resource: !GetAtt Table.Arn\n        - Statement:\n            - Effect: Allow\n              Action: ses:SendEmail\n              Resource: !Sub arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${MailIdentity}\n            - !If\n              - SendsNewDeviceMail\n              - Effect: Allow\n                Action: ses:SendEmail\n                Resource: !Sub arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${MailIdentity}\n              - !Ref AWS::NoValue\n";
    let functions = template_functions(template);
    assert_eq!(functions["F"].statements.len(), 3);
    assert_eq!(functions["F"].statements[1], mail_statement());
    assert_eq!(functions["F"].statements[2], new_device_mail_statement());
    assert_eq!(
        functions["F"].statements[0].actions,
        ["dynamodb:GetItem".to_owned()].into()
    );
}

#[test]
fn secrets_reach_only_the_functions_that_use_them() {
    let functions = template_functions(&read("template.yaml"));
    let by_binary: BTreeMap<_, _> = functions
        .values()
        .map(|f| (f.binary.clone().unwrap_or_default(), f))
        .collect();
    // Publishing keys, showing the device page and recording the user's answer sign nothing and
    // authenticate no client.
    for endpoint in [
        Endpoint::Jwks,
        Endpoint::OpenIdConfiguration,
        Endpoint::DevicePage,
        Endpoint::DeviceVerify,
    ] {
        assert!(!endpoint.uses_issuer_secrets(), "{endpoint:?}");
    }
    for endpoint in Endpoint::ALL {
        let name = endpoint.function_name();
        let env = &by_binary[name].env;
        let bundled = env
            .get("AUTHFN_SECRET_SETTINGS")
            .map(String::as_str)
            .unwrap_or_default();
        assert_eq!(
            bundled.contains("${OAuthSecretName}"),
            endpoint.uses_issuer_secrets(),
            "{name}: the issuer's secret (signing seeds, client secrets) goes exactly where tokens are signed or clients authenticated"
        );
        let issuer_without_secrets =
            env.contains_key("AUTHFN_OAUTH_CLIENTS") && !endpoint.uses_issuer_secrets();
        assert_eq!(
            env.contains_key("AUTHFN_JWT_PUBLIC_KEYS"),
            issuer_without_secrets,
            "{name}: public keys only where the issuer runs without its secret"
        );
        assert!(
            !env.contains_key("AUTHFN_JWT_KEYS"),
            "{name}: signing seeds come from the secret, never from a parameter"
        );
        assert_eq!(
            bundled.contains("${FederationSecretName}"),
            name.starts_with("federation-"),
            "{name}: identity-provider secrets"
        );
        assert_eq!(
            bundled.contains("${DataKeysSecretName}"),
            endpoint.uses_data_keys(),
            "{name}: the data keys go exactly where TOTP secrets are read or written"
        );
        assert!(
            !env.contains_key("AUTHFN_DATA_KEYS"),
            "{name}: data keys come from the secret, never from a parameter"
        );
    }
}

#[test]
fn the_template_reader_sees_a_missing_route() {
    // The check above is only as good as this reader: a function without its route must show.
    let template = "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Metadata: { BuildMethod: rust-cargolambda, BuildProperties: { Binary: me } }\n      Environment:\n        Variables:\n          AUTHFN_JWT_PUBLIC_KEYS: !Ref JwtPublicKeys\n      Policies:\n        - Statement:\n            - Effect: Allow\n              Action: [dynamodb:GetItem, dynamodb:Scan]\n              Resource: \"*\"\n";
    let functions = template_functions(template);
    assert_eq!(functions["F"].binary.as_deref(), Some("me"));
    assert!(functions["F"].routes.is_empty());
    assert_eq!(
        functions["F"].actions,
        ["dynamodb:GetItem".to_owned(), "dynamodb:Scan".to_owned()].into()
    );
    assert_eq!(functions["F"].resources, ["\"*\"".to_owned()].into());
    assert_eq!(
        functions["F"].env,
        [(
            "AUTHFN_JWT_PUBLIC_KEYS".to_owned(),
            "!Ref JwtPublicKeys".to_owned()
        )]
        .into()
    );
}

#[test]
fn the_worker_routes_every_endpoint_by_its_path() {
    // The Worker serves `App::route`, which finds the endpoint with `Endpoint::for_path`.
    for endpoint in Endpoint::ALL {
        assert_eq!(Endpoint::for_path(endpoint.path()), Some(endpoint));
    }
    let worker = read("worker/src/lib.rs");
    assert!(
        worker.contains("authfn::workers::serve(req, &env)"),
        "the Worker must route through authfn::workers::serve"
    );
    // Routes in wrangler.toml, if any, must send every endpoint's path to that one Worker.
    let wrangler: toml::Table = read("wrangler.toml")
        .parse()
        .expect("wrangler.toml is TOML");
    let patterns = worker_route_patterns(&wrangler);
    for endpoint in Endpoint::ALL {
        let path = endpoint.path();
        assert!(
            patterns.is_empty() || patterns.iter().any(|p| worker_route_covers(p, path)),
            "wrangler.toml routes {patterns:?} do not reach {path}"
        );
    }
}

/// The patterns of `route` / `routes` in wrangler.toml (a string, or a table's `pattern`).
fn worker_route_patterns(wrangler: &toml::Table) -> Vec<String> {
    let one = wrangler.get("route").into_iter();
    let many = wrangler
        .get("routes")
        .and_then(|r| r.as_array())
        .into_iter()
        .flatten();
    one.chain(many)
        .map(|route| {
            let pattern = route.as_str().or_else(|| route.get("pattern")?.as_str());
            pattern
                .expect("a route is a pattern or a table with one")
                .to_owned()
        })
        .collect()
}

/// Whether a Workers route pattern (`host`, `host/*`, `host/auth/*`) takes requests for `path`:
/// a pattern without a path (a custom domain) takes every path; `*` ends a path prefix.
fn worker_route_covers(pattern: &str, path: &str) -> bool {
    let route = pattern.split_once('/').map_or("", |(_, route)| route);
    let path = path.trim_start_matches('/');
    match route.strip_suffix('*') {
        _ if route.is_empty() => true,
        Some(prefix) => path.starts_with(prefix),
        None => path == route,
    }
}

#[test]
fn the_worker_route_reader_sees_a_path_left_out() {
    let wrangler: toml::Table =
        "routes = [\"example.com/auth/*\", { pattern = \"auth.example.com\", custom_domain = true }]".parse().expect("TOML");
    assert_eq!(
        worker_route_patterns(&wrangler),
        ["example.com/auth/*", "auth.example.com"]
    );
    assert!(worker_route_covers("auth.example.com", "/oidc/token"));
    assert!(worker_route_covers("example.com/*", "/me"));
    assert!(worker_route_covers("example.com/auth/*", "/auth/session"));
    assert!(!worker_route_covers("example.com/auth/*", "/oidc/token"));
    assert!(!worker_route_covers(
        "example.com/me",
        "/.well-known/jwks.json"
    ));
}

#[test]
fn wrangler_toml_keeps_secrets_out_of_vars() {
    let wrangler: toml::Table = read("wrangler.toml")
        .parse()
        .expect("wrangler.toml is TOML");
    let vars = wrangler
        .get("vars")
        .and_then(|v| v.as_table())
        .cloned()
        .unwrap_or_default();
    for name in vars.keys() {
        let secret = matches!(
            name.as_str(),
            "AUTHFN_SESSION_KEYS"
                | "AUTHFN_JWT_KEYS"
                | "AUTHFN_JWT_RSA_KEY"
                | "AUTHFN_SES_ACCESS_KEY_ID"
                | "AUTHFN_SES_SECRET_ACCESS_KEY"
        ) || name.ends_with("_SECRET");
        assert!(
            !secret,
            "{name} belongs in `wrangler secret put`, not [vars]"
        );
    }
    assert_eq!(wrangler["main"].as_str(), Some("worker/build/index.js"));
}

/// The lines of a top-level section of a template (`Globals`, `Parameters`), without it.
fn top_level_section<'a>(template: &'a str, name: &str) -> Vec<&'a str> {
    let header = format!("{name}:");
    template
        .lines()
        .skip_while(|l| *l != header)
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        .collect()
}

/// The lines of one resource (or parameter) block: from `  <name>:` to the next block.
fn block<'a>(template: &'a str, name: &str) -> Vec<&'a str> {
    let header = format!("  {name}:");
    let mut lines = template.lines().skip_while(|l| *l != header);
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("template.yaml has no {name}"));
    std::iter::once(first)
        .chain(lines.take_while(|l| l.is_empty() || l.starts_with("    ")))
        .collect()
}

fn has_line(lines: &[&str], wanted: &str) -> bool {
    lines.iter().any(|l| l.trim() == wanted)
}

#[test]
fn every_function_logs_json_lines_to_one_log_group_with_a_retention() {
    let template = read("template.yaml");
    let globals = top_level_section(&template, "Globals");
    for wanted in [
        "LoggingConfig:",
        "LogFormat: JSON",
        // authfn writes nothing below INFO; above it, the access lines and metrics would go.
        "ApplicationLogLevel: INFO",
        "LogGroup: !Ref FunctionLogs",
    ] {
        assert!(has_line(&globals, wanted), "Globals.Function: {wanted}");
    }
    for (name, function) in template_functions(&template) {
        assert!(
            !function.own_logging,
            "{name} sets its own LoggingConfig: its logs would leave the retained group"
        );
    }
    let group = block(&template, "FunctionLogs");
    assert!(has_line(&group, "Type: AWS::Logs::LogGroup"));
    assert!(has_line(&group, "RetentionInDays: !Ref LogRetentionDays"));
    assert!(
        has_line(&group, "DeletionPolicy: Retain"),
        "security events outlive the stack"
    );
    let retention = block(&template, "LogRetentionDays");
    assert!(has_line(&retention, "Type: Number") && has_line(&retention, "Default: 90"));
}

/// The line that lets a function put events on the bus (the managed policy, when the stack
/// has a bus).
const PUBLISH_EVENTS: &str = "- !If [HasEventBus, !Ref PublishSecurityEvents, !Ref AWS::NoValue]";

#[test]
fn exactly_the_functions_that_can_record_events_may_put_them_and_only_on_the_bus() {
    let template = read("template.yaml");
    let functions = template_functions(&template);
    let by_binary: BTreeMap<_, _> = functions
        .values()
        .map(|f| (f.binary.clone().unwrap_or_default(), f))
        .collect();
    for endpoint in Endpoint::ALL {
        let name = endpoint.function_name();
        let refs = &by_binary[name].policy_refs;
        assert_eq!(
            refs.contains(PUBLISH_EVENTS),
            endpoint.may_record_events(),
            "{name}: the event-bus policy, exactly when it can record events"
        );
        assert!(
            refs.iter().all(|r| r == PUBLISH_EVENTS),
            "{name}: a policy beyond its statements and the bus's: {refs:?}"
        );
    }
    let policy = block(&template, "PublishSecurityEvents");
    assert!(has_line(&policy, "Type: AWS::IAM::ManagedPolicy"));
    assert!(has_line(&policy, "Condition: HasEventBus"));
    let statements = policy
        .iter()
        .filter(|l| l.trim().starts_with("- Effect:"))
        .count();
    assert_eq!(statements, 1, "{policy:#?}");
    assert!(has_line(&policy, "Action: events:PutEvents"));
    assert!(has_line(
        &policy,
        "Resource: !Sub arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${EventBusName}"
    ));
    // The functions find the bus in AUTHFN_EVENT_BUS, set only when the stack has one.
    let globals = top_level_section(&template, "Globals");
    assert!(has_line(
        &globals,
        "AUTHFN_EVENT_BUS: !If [HasEventBus, !Ref EventBusName, !Ref AWS::NoValue]"
    ));
    assert!(has_line(
        &globals,
        "AUTHFN_METRICS_SERVICE: !Ref AWS::StackName"
    ));
    // The sample rule matches what the functions put: source authfn, detail-type a name.
    let rule = block(&template, "SecurityAlertRule");
    assert!(has_line(&rule, "source: [authfn]"));
    let types = rule
        .iter()
        .find_map(|l| l.trim().strip_prefix("detail-type: ["))
        .and_then(|l| l.strip_suffix(']'))
        .expect("the rule matches detail-types");
    for name in types.split(',').map(str::trim) {
        assert!(
            authfn::events::EventType::ALL
                .iter()
                .any(|t| t.name() == name),
            "the sample rule matches {name}, which is no event type"
        );
    }
}

#[test]
fn the_alarms_watch_metrics_the_functions_write() {
    use authfn::metrics::{NAMESPACE, names};
    let template = read("template.yaml");
    let reuse = block(&template, "RefreshReuseAlarm");
    assert!(has_line(&reuse, &format!("Namespace: {NAMESPACE}")));
    assert!(has_line(
        &reuse,
        &format!("MetricName: {}", names::REFRESH_REUSE)
    ));
    assert!(has_line(&reuse, "Threshold: 1"));
    assert!(has_line(
        &reuse,
        "ComparisonOperator: GreaterThanOrEqualToThreshold"
    ));
    assert!(has_line(&reuse, "Period: 300"));
    let errors = block(&template, "ServerErrorRateAlarm").join("\n");
    for metric in [names::SERVER_ERRORS, names::REQUESTS] {
        assert!(
            errors.contains(&format!("{{ Namespace: {NAMESPACE}, MetricName: {metric}, Dimensions: [{{ Name: Service, Value: !Ref AWS::StackName }}] }}")),
            "the 5xx alarm reads {metric} of this stack"
        );
    }
    for alarm in ["RefreshReuseAlarm", "ServerErrorRateAlarm"] {
        assert!(has_line(
            &block(&template, alarm),
            "AlarmActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]"
        ));
    }
}

#[test]
fn wrangler_toml_offers_the_event_queue_under_the_binding_the_worker_reads() {
    let wrangler = read("wrangler.toml");
    // Commented out: the bus is optional, and a producer binding to a queue that does not exist
    // fails `wrangler deploy`. tests/support/workers.sh uncomments exactly these lines.
    let block = [
        "# [[queues.producers]]".to_owned(),
        format!("# binding = \"{}\"", authfn::events::QUEUE_BINDING),
        "# queue = \"authfn-events\"".to_owned(),
    ];
    let lines: Vec<String> = wrangler.lines().map(str::to_owned).collect();
    assert!(
        lines.windows(3).any(|w| w == block),
        "wrangler.toml lacks the commented producer block {block:#?}"
    );
    let parsed: toml::Table = wrangler.parse().expect("wrangler.toml is TOML");
    assert!(
        parsed.get("queues").is_none(),
        "the event queue is off by default"
    );
    let sink: toml::Table = read("tests/event-sink/wrangler.toml")
        .parse()
        .expect("TOML");
    assert_eq!(
        sink["queues"]["consumers"][0]["queue"].as_str(),
        Some("authfn-events"),
        "the test consumer reads the queue the Worker sends to"
    );
}

/// The README's event table ("Security events"), as its rows: `| `name` | outcome | in activity |
/// meaning |` (the last column, what it carries, is prose).
fn readme_event_rows() -> Vec<Vec<String>> {
    let readme = read("README.md");
    let table: Vec<&str> = readme
        .lines()
        .skip_while(|l| !l.starts_with("| Event | Outcome | In the user's activity |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .collect();
    table
        .iter()
        .map(|row| {
            row.trim_matches('|')
                .split(" | ")
                .map(|cell| cell.trim().to_owned())
                .collect()
        })
        .collect()
}

#[test]
fn the_readme_event_table_is_the_event_types_table() {
    use authfn::events::{EventType, Outcome};
    let rows = readme_event_rows();
    let expected: Vec<String> = EventType::ALL
        .iter()
        .map(|t| {
            let outcome = match t.outcome() {
                Outcome::Success => "success",
                Outcome::Failure => "failure",
            };
            let activity = if t.shows_in_activity() { "yes" } else { "no" };
            format!(
                "| `{}` | {outcome} | {activity} | {} |",
                t.name(),
                t.description()
            )
        })
        .collect();
    let actual: Vec<String> = rows
        .iter()
        .map(|cells| {
            format!(
                "| {} |",
                cells
                    .iter()
                    .take(4)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" | ")
            )
        })
        .collect();
    assert_eq!(
        actual,
        expected,
        "README.md's event table must list authfn::events::EventType::ALL, in order; its first \
         four columns are:\n{}",
        expected.join("\n")
    );
}
