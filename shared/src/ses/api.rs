//! SES v2 `SendEmail` as one signed HTTP request, for runtimes without the AWS SDK (Workers):
//! `POST /v2/email/outbound-emails` with a JSON body, signed with SigV4 (`ses::sigv4`).

use std::time::SystemTime;

use serde_json::json;

use super::MailFrom;
use super::sigv4::{self, AccessKey};
use crate::error::Cause;
use crate::mail::Mail;
use crate::settings::{ConfigError, Settings};

/// SigV4's name for SES (v1 and v2 alike).
const SERVICE: &str = "ses";
const PATH: &str = "/v2/email/outbound-emails";

/// Where and as whom a Worker sends mail: from its vars and secrets.
#[derive(Debug, Clone)]
pub struct SesApi {
    from: MailFrom,
    region: String,
    key: AccessKey,
    /// `https://email.<region>.amazonaws.com`, or `AUTHFN_SES_ENDPOINT`.
    endpoint: url::Url,
}

/// One HTTP request, ready for whichever client the runtime has.
#[derive(Debug)]
pub struct SignedRequest {
    /// The full URL to POST to.
    pub url: String,
    /// Every header, `Authorization` included.
    pub headers: Vec<(String, String)>,
    /// The JSON body the signature covers.
    pub body: Vec<u8>,
}

impl SesApi {
    /// `AUTHFN_MAIL_FROM`, `AUTHFN_SES_REGION`, `AUTHFN_SES_ACCESS_KEY_ID` and
    /// `AUTHFN_SES_SECRET_ACCESS_KEY` (all required), and optionally `AUTHFN_SES_ENDPOINT`.
    pub fn from_settings(settings: &Settings<'_>) -> Result<SesApi, ConfigError> {
        let from = MailFrom::from_settings(settings)?;
        let region = settings.required(
            "AUTHFN_SES_REGION",
            ": the AWS region of the SES identity, e.g. eu-west-1",
        )?;
        if !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(ConfigError::new(format!(
                "AUTHFN_SES_REGION: {region:?} is not a region name such as eu-west-1"
            )));
        }
        let why = ": an access key allowed ses:SendEmail on the identity (a Worker secret)";
        let key = AccessKey::new(
            settings.required("AUTHFN_SES_ACCESS_KEY_ID", why)?,
            settings.required("AUTHFN_SES_SECRET_ACCESS_KEY", why)?,
        );
        let endpoint = match super::endpoint_from_settings(settings)? {
            Some(url) => url,
            None => {
                let url = format!("https://email.{region}.amazonaws.com");
                url::Url::parse(&url).map_err(|e| {
                    ConfigError::because(format!("AUTHFN_SES_REGION makes {url:?}"), e)
                })?
            }
        };
        Ok(SesApi {
            from,
            region,
            key,
            endpoint,
        })
    }

    /// The `SendEmail` request for `mail`, signed at `now`.
    pub fn send_email(&self, mail: &Mail, now: SystemTime) -> Result<SignedRequest, Cause> {
        let body = json!({
            "FromEmailAddress": self.from.as_str(),
            "Destination": { "ToAddresses": [mail.to.as_str()] },
            "Content": { "Simple": {
                "Subject": { "Data": mail.subject, "Charset": "UTF-8" },
                "Body": {
                    "Text": { "Data": mail.text, "Charset": "UTF-8" },
                    "Html": { "Data": mail.html, "Charset": "UTF-8" },
                },
            }},
        })
        .to_string()
        .into_bytes();
        // What `fetch` will send as `Host`: the host, and the port when it is not the default.
        let host = &self.endpoint[url::Position::BeforeHost..url::Position::AfterPort];
        let request = sigv4::Request {
            method: "POST",
            host,
            path: PATH,
            headers: &[("content-type", "application/json")],
            body: &body,
        };
        let scope = sigv4::Scope {
            region: &self.region,
            service: SERVICE,
        };
        let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        headers.extend(sigv4::sign(&request, &scope, &self.key, now)?);
        let url = format!("{}{PATH}", self.endpoint.as_str().trim_end_matches('/'));
        Ok(SignedRequest { url, headers, body })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;
    use crate::email::Email;

    fn api(extra: &[(&str, &str)]) -> Result<SesApi, ConfigError> {
        let mut vars: HashMap<String, String> = [
            ("AUTHFN_MAIL_FROM", "Example <no-reply@example.org>"),
            ("AUTHFN_SES_REGION", "eu-west-1"),
            ("AUTHFN_SES_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            (
                "AUTHFN_SES_SECRET_ACCESS_KEY",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for (k, v) in extra {
            vars.insert((*k).to_owned(), (*v).to_owned());
        }
        let lookup = move |name: &str| vars.get(name).cloned();
        SesApi::from_settings(&Settings::new(&lookup))
    }

    fn mail() -> Mail {
        Mail {
            to: Email::parse("ada@example.com").unwrap(),
            subject: "Verify your address".into(),
            text: "code 123456".into(),
            html: "<p>code 123456</p>".into(),
        }
    }

    fn header<'a>(req: &'a SignedRequest, name: &str) -> &'a str {
        req.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap()
    }

    #[test]
    fn send_email_is_a_signed_json_post_to_the_regions_ses() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160);
        let req = api(&[]).unwrap().send_email(&mail(), at).unwrap();

        assert_eq!(
            req.url,
            "https://email.eu-west-1.amazonaws.com/v2/email/outbound-emails"
        );
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(body["FromEmailAddress"], "Example <no-reply@example.org>");
        assert_eq!(
            body["Destination"]["ToAddresses"],
            json!(["ada@example.com"])
        );
        let simple = &body["Content"]["Simple"];
        assert_eq!(
            (
                &simple["Subject"]["Data"],
                &simple["Body"]["Text"]["Data"],
                &simple["Body"]["Html"]["Data"]
            ),
            (
                &json!("Verify your address"),
                &json!("code 123456"),
                &json!("<p>code 123456</p>")
            )
        );
        assert_eq!(header(&req, "content-type"), "application/json");
        assert_eq!(header(&req, "x-amz-date"), "20150830T123600Z");
        let auth = header(&req, "authorization");
        assert!(
            auth.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/ses/aws4_request, "
            ),
            "{auth}"
        );
        assert!(
            auth.contains("SignedHeaders=content-type;host;x-amz-date,"),
            "{auth}"
        );
    }

    #[test]
    fn a_local_endpoint_replaces_aws_and_its_port_is_signed_as_part_of_the_host() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160);
        let local = api(&[("AUTHFN_SES_ENDPOINT", "http://127.0.0.1:4566")]).unwrap();
        let other_port = api(&[("AUTHFN_SES_ENDPOINT", "http://127.0.0.1:4567")]).unwrap();
        let (a, b) = (
            local.send_email(&mail(), at).unwrap(),
            other_port.send_email(&mail(), at).unwrap(),
        );
        assert_eq!(a.url, "http://127.0.0.1:4566/v2/email/outbound-emails");
        assert_ne!(
            header(&a, "authorization"),
            header(&b, "authorization"),
            "the port is in the signed Host"
        );
    }

    #[test]
    fn every_ses_setting_is_required_and_none_is_echoed_when_secret() {
        for missing in [
            "AUTHFN_MAIL_FROM",
            "AUTHFN_SES_REGION",
            "AUTHFN_SES_ACCESS_KEY_ID",
            "AUTHFN_SES_SECRET_ACCESS_KEY",
        ] {
            let err = api(&[(missing, "")]).unwrap_err();
            assert!(err.message().contains(missing), "{err}");
        }
        let err = api(&[("AUTHFN_SES_REGION", "eu-west-1.evil.example/")]).unwrap_err();
        assert!(err.message().contains("AUTHFN_SES_REGION"), "{err}");
        assert!(!format!("{:?}", api(&[]).unwrap()).contains("wJalrXUtnFEMI"));
    }
}
