//! A table of bad inputs sent to every endpoint: malformed JSON and forms, wrong types, empty
//! and huge fields, invalid UTF-8, NUL bytes, wrong content types, repeated parameters,
//! header injection in `return_to`, bad percent-encoding. Whatever the endpoint, the answer is
//! never a 5xx, and every 4xx carries authfn's error shape (`error` + `message`; the device
//! page, which is HTML, answers in HTML).

use authfn_blackbox::{Api, Endpoint, Reply, UrlStyle};
use reqwest::Method;

fn api() -> Api {
    Api::from_env()
}

/// The bodies a hostile or broken client might POST, with the content type it claims.
///
/// Under `cargo lambda watch` the non-UTF-8 bodies are left out: its function-URL emulator
/// answers a text content type with a body that is not UTF-8 with its own 500 before any
/// function runs (it cannot put such a body in the event as text). authfn's Lambda adapter
/// takes bodies API Gateway base64-encodes as bytes; the dev server and workerd cases cover
/// the handling itself.
fn bad_bodies(api: &Api) -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let emulated = api.target.style == UrlStyle::LambdaUrl;
    let huge = format!(
        "{{\"email\":\"{}@example.com\",\"password\":\"x\"}}",
        "a".repeat(64 * 1024)
    );
    let bodies = vec![
        (
            "malformed JSON",
            "application/json",
            b"{\"email\":".to_vec(),
        ),
        (
            "JSON of the wrong types",
            "application/json",
            br#"{"email":1,"password":[],"client_id":{}}"#.to_vec(),
        ),
        (
            "JSON with empty fields",
            "application/json",
            br#"{"email":"","password":""}"#.to_vec(),
        ),
        ("a JSON array", "application/json", b"[1,2,3]".to_vec()),
        (
            "JSON with NUL bytes",
            "application/json",
            b"{\"email\":\"a\\u0000@example.com\",\"password\":\"pass\\u0000word\"}".to_vec(),
        ),
        (
            "invalid UTF-8 as JSON",
            "application/json",
            vec![b'{', b'"', 0xff, 0xfe, b'"', b'}'],
        ),
        ("a huge body", "application/json", huge.into_bytes()),
        (
            "invalid UTF-8 as a form",
            "application/x-www-form-urlencoded",
            vec![b'a', b'=', 0xff, 0xfe],
        ),
        (
            "a form with repeated parameters",
            "application/x-www-form-urlencoded",
            b"client_id=cli&client_id=cli&grant_type=refresh_token".to_vec(),
        ),
        (
            "a form with NUL bytes",
            "application/x-www-form-urlencoded",
            b"client_id=cli%00&user_code=BCDF%00GHJK&token=%00".to_vec(),
        ),
        (
            "a form with bad percent-encoding",
            "application/x-www-form-urlencoded",
            b"client_id=%zz&token=%".to_vec(),
        ),
        ("plain text", "text/plain", b"hello".to_vec()),
        ("XML", "application/xml", b"<a/>".to_vec()),
    ];
    bodies
        .into_iter()
        .filter(|(_, _, body)| !emulated || std::str::from_utf8(body).is_ok())
        .collect()
}

fn bad_queries() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "header injection in return_to",
            "return_to=http%3A%2F%2Flocalhost%3A5173%2F%0D%0ASet-Cookie%3A%20x%3D1",
        ),
        (
            "an open redirect in return_to",
            "return_to=https%3A%2F%2Fevil.example%2F",
        ),
        ("repeated parameters", "state=a&state=b&code=c&code=d"),
        ("bad percent-encoding", "user_code=%ff%fe&state=%zz"),
        ("NUL bytes", "user_code=BCDF%00GHJK&state=%00&code=%00"),
        (
            "a huge parameter",
            "state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ),
    ]
}

/// The endpoint's URL with a concrete provider for the federation routes.
fn url(api: &Api, endpoint: Endpoint) -> String {
    api.target.url(endpoint).replace("{provider}", "idp")
}

#[track_caller]
fn assert_handled(endpoint: Endpoint, what: &str, reply: &Reply) {
    assert!(
        reply.status < 500,
        "{endpoint:?} answered {what} with {}: {}",
        reply.status,
        reply.text()
    );
    // The device page is a page a person follows a link to: its own refusals are pages too
    // (with the issuer off it is an unknown route, JSON like any other).
    if reply.status >= 400 && reply.status != 404 && endpoint == Endpoint::DevicePage {
        let content_type = reply.headers.get("content-type");
        assert!(
            content_type.is_some_and(|t| t.to_str().unwrap_or_default().starts_with("text/html")),
            "the device page answered {what} with {} as {content_type:?}: {}",
            reply.status,
            reply.text()
        );
    }
    if reply.status >= 400 && endpoint != Endpoint::DevicePage {
        let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap_or_else(|_| {
            panic!(
                "{endpoint:?} answered {what} with a non-JSON {}: {}",
                reply.status,
                reply.text()
            )
        });
        assert!(
            body["error"].is_string() && body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{endpoint:?} answered {what} without the error shape: {body}"
        );
    }
    for cookie in reply.headers.get_all("set-cookie") {
        assert!(
            !cookie.to_str().unwrap_or_default().starts_with("x="),
            "{endpoint:?}: injected header for {what}"
        );
    }
}

#[tokio::test]
#[ignore = "needs a running authfn (tests/run.sh)"]
async fn every_endpoint_answers_bad_input_with_a_4xx_never_a_5xx() {
    let api = api();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for endpoint in Endpoint::ALL {
        let url = url(&api, endpoint);
        for method in endpoint.method_names() {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            if method == Method::POST {
                for (what, content_type, body) in bad_bodies(&api) {
                    let res = http
                        .post(&url)
                        .header("content-type", content_type)
                        .body(body)
                        .send()
                        .await
                        .expect("request");
                    let reply = Reply {
                        status: res.status().as_u16(),
                        headers: res.headers().clone(),
                        body: res.bytes().await.unwrap().to_vec(),
                    };
                    assert_handled(endpoint, what, &reply);
                }
            }
            for (what, query) in bad_queries() {
                let res = http
                    .request(method.clone(), format!("{url}?{query}"))
                    .send()
                    .await
                    .expect("request");
                let reply = Reply {
                    status: res.status().as_u16(),
                    headers: res.headers().clone(),
                    body: res.bytes().await.unwrap().to_vec(),
                };
                assert_handled(endpoint, what, &reply);
            }
        }
    }
}

/// A body is one JSON object: serde alone reads an array as a struct's members in order (the
/// array below would sign up), and its messages name Rust types (`struct Body`, `u64`) and
/// quote what was sent. A refusal names the member and the JSON it must be.
#[tokio::test]
#[ignore = "needs a running authfn (tests/run.sh)"]
async fn a_body_is_a_json_object_and_a_refusal_names_members_not_rust_types() {
    let api = api();
    let http = reqwest::Client::new();
    let secret = "hunter2-never-echoed";
    let array = format!(r#"["bb-array-{secret}@example.com","correct horse battery"]"#);
    let string = format!(r#""{secret}""#);
    let wrong_types = format!(
        r#"{{"email":["{secret}"],"password":{{"p":"{secret}"}},"token":5,"code":true,"mfa_token":7,"credential":"{secret}","session_delivery":"{secret}"}}"#
    );
    for endpoint in [
        Endpoint::SignUp,
        Endpoint::SignIn,
        Endpoint::VerifyEmail,
        Endpoint::ResendVerification,
        Endpoint::ForgotPassword,
        Endpoint::ResetPassword,
        Endpoint::PasskeySignInBegin,
        Endpoint::PasskeySignInFinish,
        Endpoint::MfaVerify,
    ] {
        for (what, body, message) in [
            (
                "an array",
                &array,
                Some("body: must be a JSON object, not an array"),
            ),
            (
                "a string",
                &string,
                Some("body: must be a JSON object, not a string"),
            ),
            ("members of the wrong types", &wrong_types, None),
        ] {
            let res = http
                .post(url(&api, endpoint))
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .expect("request");
            let status = res.status().as_u16();
            let json: serde_json::Value = res.json().await.expect("a JSON answer");
            assert_eq!(
                (status, json["error"].as_str()),
                (400, Some("invalid_request")),
                "{endpoint:?}, {what}: {json}"
            );
            let said = json["message"].as_str().expect("a message");
            if let Some(message) = message {
                assert_eq!(said, message, "{endpoint:?}, {what}");
            }
            for word in ["struct", "Body", "sequence", "map", "u64", "line ", secret] {
                assert!(
                    !said.contains(word),
                    "{endpoint:?}, {what}: {said:?} says {word:?}"
                );
            }
        }
    }
}

#[tokio::test]
#[ignore = "needs a running authfn (tests/run.sh)"]
async fn input_parsing_endpoints_refuse_every_bad_body() {
    // These read their body, so none of the bad ones may get through to a 2xx.
    let api = api();
    let http = reqwest::Client::new();
    for endpoint in [
        Endpoint::SignUp,
        Endpoint::SignIn,
        Endpoint::DeviceAuthorize,
        Endpoint::Token,
        Endpoint::Introspect,
    ] {
        for (what, content_type, body) in bad_bodies(&api) {
            let res = http
                .post(url(&api, endpoint))
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .expect("request");
            let status = res.status().as_u16();
            assert!(
                (400..500).contains(&status),
                "{endpoint:?} answered {what} with {status}: {}",
                res.text().await.unwrap_or_default()
            );
        }
    }
}

#[tokio::test]
#[ignore = "needs a running authfn (tests/run.sh)"]
async fn every_answer_forbids_mime_sniffing() {
    let api = api();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for endpoint in Endpoint::ALL {
        for method in endpoint.method_names().iter().chain(&["OPTIONS", "DELETE"]) {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let res = http
                .request(method.clone(), url(&api, endpoint))
                .send()
                .await
                .expect("request");
            let nosniff = res
                .headers()
                .get("x-content-type-options")
                .and_then(|v| v.to_str().ok());
            assert_eq!(
                nosniff,
                Some("nosniff"),
                "{method} {endpoint:?} answered {}",
                res.status()
            );
        }
    }
}

#[tokio::test]
#[ignore = "needs a running authfn (tests/run.sh)"]
async fn an_overlong_uri_gets_a_json_414() {
    let api = api();
    let http = reqwest::Client::new();
    let res = http
        .get(format!(
            "{}?x={}",
            url(&api, Endpoint::Session),
            "a".repeat(9000)
        ))
        .send()
        .await
        .expect("request");
    let reply = Reply {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        body: res.bytes().await.unwrap().to_vec(),
    };
    reply.expect_error(414, "uri_too_long");
}

#[tokio::test]
#[ignore = "needs a running authfn with OAuth clients (tests/run.sh)"]
async fn oauth_endpoints_answer_transport_errors_in_rfc_6749_form() {
    let api = api();
    let http = reqwest::Client::new();
    let token = url(&api, Endpoint::Token);
    let oversized = "client_id=cli&x=".to_owned() + &"a".repeat(512 * 1024);
    let requests = [
        ("405", http.get(&token), 405, "method_not_allowed"),
        (
            "415",
            http.post(&token)
                .header("content-type", "application/json")
                .body("{}"),
            415,
            "unsupported_media_type",
        ),
        (
            "413",
            http.post(&token)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(oversized),
            413,
            "payload_too_large",
        ),
        (
            "403",
            http.post(url(&api, Endpoint::DeviceVerify))
                .header("origin", "https://evil.example")
                .header("content-type", "application/x-www-form-urlencoded")
                .body("user_code=BCDF-GHJK&decision=approve"),
            403,
            "csrf_rejected",
        ),
    ];
    for (what, req, status, code) in requests {
        let res = req.send().await.expect("request");
        let reply = Reply {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            body: res.bytes().await.unwrap().to_vec(),
        };
        reply.expect_error(status, code);
        assert!(
            reply.json()["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{what}: {}",
            reply.text()
        );
    }
}

#[tokio::test]
#[ignore = "needs a running authfn (tests/run.sh)"]
async fn a_sibling_subdomain_without_origin_cannot_change_state() {
    let api = api();
    let cookie = api
        .signed_up(
            &authfn_blackbox::unique_email("same-site"),
            "correct horse battery",
        )
        .await;
    let sign_out = |site: &'static str| {
        api.request(
            Method::POST,
            Endpoint::SignOut,
            authfn_blackbox::Auth::Cookie(&cookie),
        )
        .header("sec-fetch-site", site)
    };
    api.send(sign_out("same-site"))
        .await
        .expect_error(403, "csrf_rejected");
    api.session(authfn_blackbox::Auth::Cookie(&cookie))
        .await
        .expect_status(200);
    api.send(sign_out("same-origin")).await.expect_status(204);
}
