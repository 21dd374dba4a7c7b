//! AWS Signature Version 4 for one request with a header signature: what the Worker needs to
//! call SES v2 over `fetch` (on Lambda the SDK signs).
//!
//! Written here, over the RustCrypto `hmac` and `sha2` the Worker links anyway, rather than
//! taken from the maintained `aws-sigv4`: that crate signs through the SDK's request and
//! identity types, which brought `http` 0.2, the smithy runtime types and `tracing` into the
//! Worker, about 6 % of its code (some 100 KB before wasm-opt), for what is, for the one shape
//! of request signed here (a path of unreserved characters, no query, a few headers), a
//! canonical request and five HMACs. The tests hold it to AWS's published SigV4 suite and to
//! `aws-sigv4` itself.

use std::time::SystemTime;

use hmac::Hmac;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::Cause;

crate::secret::secret_type!(
    /// An AWS secret access key.
    #[derive(Clone)]
    pub struct SecretAccessKey(String);
);

/// An AWS access key: its id and its secret.
#[derive(Debug, Clone)]
pub struct AccessKey {
    id: String,
    secret: SecretAccessKey,
}

impl AccessKey {
    /// The key with id `id` and secret `secret`.
    pub fn new(id: String, secret: String) -> AccessKey {
        AccessKey {
            id,
            secret: SecretAccessKey(secret),
        }
    }
}

/// What a signature covers.
#[derive(Debug)]
pub struct Request<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The `Host` header's value (`host`, or `host:port` for a port that is not the default).
    pub host: &'a str,
    /// The absolute path, of unreserved characters and `/` only (so it is its own canonical
    /// form), without a query.
    pub path: &'a str,
    /// Headers to sign besides `host` and `x-amz-date`, names in lower case, values trimmed.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body.
    pub body: &'a [u8],
}

/// Whose signing key: the region and the service's signing name.
#[derive(Debug)]
pub struct Scope<'a> {
    /// e.g. `us-east-1`.
    pub region: &'a str,
    /// e.g. `ses`.
    pub service: &'a str,
}

/// The headers to add to `request` for it to be signed at `now`: `x-amz-date` and
/// `authorization` (the request must also carry the headers it was signed with).
pub fn sign(
    request: &Request<'_>,
    scope: &Scope<'_>,
    key: &AccessKey,
    now: SystemTime,
) -> Result<Vec<(String, String)>, Cause> {
    // The canonical request below writes the path and the header names as they are, which is
    // their canonical form only for these characters.
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
    if !request.path.starts_with('/') || !request.path.bytes().all(|b| unreserved(b) || b == b'/') {
        return Err("SigV4: the path must be absolute, of unreserved characters".into());
    }
    if !request.headers.iter().all(|(name, _)| {
        name.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    }) {
        return Err("SigV4: header names must be in lower case".into());
    }
    let (date, timestamp) = amz_date(now)?;

    // Task 1, the canonical request: headers sorted by name, the body's hash last.
    let mut headers: Vec<(&str, &str)> = vec![("host", request.host), ("x-amz-date", &timestamp)];
    headers.extend(
        request
            .headers
            .iter()
            .map(|&(name, value)| (name, value.trim())),
    );
    headers.sort_unstable_by_key(|&(name, _)| name);
    let signed_headers = headers
        .iter()
        .map(|&(name, _)| name)
        .collect::<Vec<_>>()
        .join(";");
    let mut canonical = format!("{}\n{}\n\n", request.method, request.path);
    for (name, value) in &headers {
        canonical.push_str(&format!("{name}:{value}\n"));
    }
    canonical.push_str(&format!(
        "\n{signed_headers}\n{}",
        hex(&crate::crypto::sha256(request.body))
    ));

    // Task 2, the string to sign; task 3, the signing key for this day, region and service.
    let credential_scope = format!("{date}/{}/{}/aws4_request", scope.region, scope.service);
    let string_to_sign = format!(
        "{ALGORITHM}\n{timestamp}\n{credential_scope}\n{}",
        hex(&crate::crypto::sha256(canonical.as_bytes()))
    );
    let secret = Zeroizing::new(format!("AWS4{}", key.secret.secret()));
    let mut signing_key = hmac(secret.as_bytes(), date.as_bytes());
    for part in [scope.region, scope.service, "aws4_request"] {
        signing_key = hmac(&signing_key, part.as_bytes());
    }
    let signature = hex(&hmac(&signing_key, string_to_sign.as_bytes()));
    let authorization = format!(
        "{ALGORITHM} Credential={}/{credential_scope}, SignedHeaders={signed_headers}, Signature={signature}",
        key.id
    );
    Ok(vec![
        ("x-amz-date".to_owned(), timestamp),
        ("authorization".to_owned(), authorization),
    ])
}

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// `now` as SigV4 writes it: the day (`20150830`) and the instant (`20150830T123600Z`), UTC.
fn amz_date(now: SystemTime) -> Result<(String, String), Cause> {
    let secs = now.duration_since(SystemTime::UNIX_EPOCH)?.as_secs();
    let at = time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs)?)?;
    let date = format!("{:04}{:02}{:02}", at.year(), u8::from(at.month()), at.day());
    let timestamp = format!(
        "{date}T{:02}{:02}{:02}Z",
        at.hour(),
        at.minute(),
        at.second()
    );
    Ok((date, timestamp))
}

fn hmac(key: &[u8], message: &[u8]) -> Zeroizing<Vec<u8>> {
    crate::crypto::hmac::<Hmac<Sha256>>(key, message)
}

fn hex(bytes: &[u8]) -> String {
    base16ct::lower::encode_string(bytes)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// The suite's fixed inputs: its example key, region, service and 2015-08-30T12:36:00Z.
    fn suite_sign(method: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<(String, String)> {
        let key = AccessKey::new(
            "AKIDEXAMPLE".into(),
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        );
        let request = Request {
            method,
            host: "example.amazonaws.com",
            path: "/",
            headers,
            body,
        };
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160);
        let mut signed = sign(
            &request,
            &Scope {
                region: "us-east-1",
                service: "service",
            },
            &key,
            at,
        )
        .unwrap();
        signed.sort();
        signed
    }

    fn authorization(signed_headers: &str, signature: &str) -> (String, String) {
        let scope = "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request";
        let value = format!(
            "{ALGORITHM} Credential={scope}, SignedHeaders={signed_headers}, Signature={signature}"
        );
        ("authorization".into(), value)
    }

    // Cases of AWS's SigV4 test suite (aws-sig-v4-test-suite; the copy the aws-sigv4 crate
    // keeps in aws-signing-test-suite/v4): the request, and the signature AWS published.
    #[test]
    fn aws_test_suite_get_vanilla() {
        let signed = suite_sign("GET", &[], b"");
        assert_eq!(
            signed,
            [
                authorization(
                    "host;x-amz-date",
                    "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
                ),
                ("x-amz-date".into(), "20150830T123600Z".into()),
            ]
        );
    }

    #[test]
    fn aws_test_suite_post_vanilla() {
        let signed = suite_sign("POST", &[], b"");
        assert_eq!(
            signed[0],
            authorization(
                "host;x-amz-date",
                "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
            )
        );
    }

    #[test]
    fn aws_test_suite_post_header_key_sort() {
        let signed = suite_sign("POST", &[("my-header1", "value1")], b"");
        assert_eq!(
            signed[0],
            authorization(
                "host;my-header1;x-amz-date",
                "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"
            )
        );
    }

    /// A body, hashed into the signature (the suite's signed-body variant).
    #[test]
    fn aws_test_suite_post_x_www_form_urlencoded() {
        let body = b"Param1=value1";
        let body_hash = "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e";
        let headers = [
            ("content-length", "13"),
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-amz-content-sha256", body_hash),
        ];
        let signed = suite_sign("POST", &headers, body);
        assert_eq!(
            signed[0],
            authorization(
                "content-length;content-type;host;x-amz-content-sha256;x-amz-date",
                "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b"
            )
        );
    }

    /// What the SDK's signer (`aws-sigv4`) makes of the same request.
    fn sdk_sign(
        request: &Request<'_>,
        scope: &Scope<'_>,
        key: &AccessKey,
        now: SystemTime,
    ) -> Vec<(String, String)> {
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        use aws_sigv4::sign::v4;
        let identity = aws_credential_types::Credentials::new(
            &key.id,
            key.secret.secret(),
            None,
            None,
            "test",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(scope.region)
            .name(scope.service)
            .time(now)
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let url = format!("https://{}{}", request.host, request.path);
        let headers =
            std::iter::once(("host", request.host)).chain(request.headers.iter().copied());
        let signable = SignableRequest::new(
            request.method,
            url,
            headers,
            SignableBody::Bytes(request.body),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let mut signed: Vec<_> = instructions
            .headers()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        signed.sort();
        signed
    }

    /// SES requests as the Worker makes them, at instants across years, days and a leap day,
    /// in several regions and with local endpoints' ports: signed as the SDK signs them.
    #[test]
    fn ses_requests_are_signed_as_the_sdk_signs_them() {
        let key = AccessKey::new(
            "AKIDEXAMPLE".into(),
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        );
        let instants = [
            0,
            951_782_400,
            1_440_938_160,
            1_709_164_799,
            1_709_164_800,
            4_102_444_799,
        ];
        let places = [
            ("email.us-east-1.amazonaws.com", "us-east-1"),
            ("email.eu-west-2.amazonaws.com", "eu-west-2"),
            ("127.0.0.1:4566", "ap-southeast-2"),
        ];
        for (n, secs) in instants.into_iter().enumerate() {
            for (host, region) in places {
                let body = format!(r#"{{"n":{n},"Content":{{"Simple":{{"Subject":"héllo"}}}}}}"#);
                let request = Request {
                    method: "POST",
                    host,
                    path: "/v2/email/outbound-emails",
                    headers: &[("content-type", "application/json")],
                    body: body.as_bytes(),
                };
                let scope = Scope {
                    region,
                    service: "ses",
                };
                let now = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
                let mut ours = sign(&request, &scope, &key, now).unwrap();
                ours.sort();
                assert_eq!(
                    ours,
                    sdk_sign(&request, &scope, &key, now),
                    "{host} at {secs}"
                );
            }
        }
    }

    #[test]
    fn a_request_it_could_not_write_canonically_is_refused() {
        let key = AccessKey::new("AKIDEXAMPLE".into(), "secret".into());
        let scope = Scope {
            region: "us-east-1",
            service: "ses",
        };
        let at = SystemTime::UNIX_EPOCH;
        let request = |path, headers| Request {
            method: "POST",
            host: "example.com",
            path,
            headers,
            body: b"",
        };
        for path in ["/a b", "/a?b=1", "/%41", "relative", "/ü"] {
            assert!(
                sign(&request(path, &[]), &scope, &key, at).is_err(),
                "{path}"
            );
        }
        assert!(sign(&request("/", &[("Content-Type", "x")]), &scope, &key, at).is_err());
        assert!(
            sign(
                &request("/a-b_c.d~e/", &[("x-amz-x1", "x")]),
                &scope,
                &key,
                at
            )
            .is_ok()
        );
    }

    #[test]
    fn the_secret_key_never_shows_in_debug() {
        let key = AccessKey::new("AKIDEXAMPLE".into(), "wJalrXUtnFEMI".into());
        assert!(!format!("{key:?}").contains("wJalrXUtnFEMI"));
    }
}
