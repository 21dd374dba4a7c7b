//! AWS Signature Version 4 for one request with a header signature: what the Worker needs to
//! call SES v2 over `fetch` (on Lambda the SDK signs).
//!
//! The maintained `aws-sigv4` crate does the signing: it builds for wasm32, and what it brings
//! into the Worker (smithy runtime types, `time`, `http` 0.2) grows the `.wasm` by a few
//! percent more than a hand-written signer over `hmac` and `sha2` would (the commit that chose
//! it has the figures): not worth owning a signature implementation for. The tests below hold
//! this wrapper (which headers it signs, the host, the time) to AWS's published SigV4 suite.

use std::time::SystemTime;

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
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4;
    let identity =
        aws_credential_types::Credentials::new(&key.id, key.secret.secret(), None, None, "authfn")
            .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(scope.region)
        .name(scope.service)
        .time(now)
        .settings(SigningSettings::default())
        .build()?
        .into();
    let url = format!("https://{}{}", request.host, request.path);
    let headers = std::iter::once(("host", request.host)).chain(request.headers.iter().copied());
    let signable = SignableRequest::new(
        request.method,
        url,
        headers,
        SignableBody::Bytes(request.body),
    )?;
    let (instructions, _) = sign(signable, &params)?.into_parts();
    Ok(instructions
        .headers()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const ALGORITHM: &str = "AWS4-HMAC-SHA256";

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

    #[test]
    fn the_secret_key_never_shows_in_debug() {
        let key = AccessKey::new("AKIDEXAMPLE".into(), "wJalrXUtnFEMI".into());
        assert!(!format!("{key:?}").contains("wJalrXUtnFEMI"));
    }
}
