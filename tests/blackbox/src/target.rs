//! Where the deployment under test is, and how its endpoints map to URLs.

use authfn::Endpoint;

/// How a deployment lays out its endpoints' URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlStyle {
    /// Every endpoint at `BASE + path`: the dev server, or API Gateway in front of the functions.
    Paths,
    /// `cargo lambda watch`: each function at `BASE/lambda-url/<function name>`, which passes
    /// the rest of the URL on to the function as its request path.
    LambdaUrl,
}

/// The deployment under test.
#[derive(Debug, Clone)]
pub struct Target {
    /// Scheme, host and port (and any prefix), without a trailing slash.
    pub base_url: String,
    /// Where each endpoint lives under `base_url`.
    pub style: UrlStyle,
    /// An origin the deployment lists in `AUTHFN_TRUSTED_ORIGINS`: browsers' cookie-carrying
    /// POSTs need one.
    pub trusted_origin: String,
}

impl Target {
    /// Reads the target from the environment, panicking with what to set when it is missing:
    /// the tests are `#[ignore]`d, so this runs only when someone asked for them.
    pub fn from_env() -> Target {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let base_url = var("AUTHFN_BASE_URL").unwrap_or_else(|| {
            panic!(
                "AUTHFN_BASE_URL is not set: these tests need a running authfn, e.g. \
                 AUTHFN_BASE_URL=http://127.0.0.1:3000 (tests/run.sh starts one and sets it)"
            )
        });
        let style = match var("AUTHFN_URL_STYLE").as_deref() {
            None | Some("paths") => UrlStyle::Paths,
            Some("lambda-url") => UrlStyle::LambdaUrl,
            Some(other) => {
                panic!("AUTHFN_URL_STYLE must be `paths` or `lambda-url`, got {other:?}")
            }
        };
        let trusted_origin =
            var("AUTHFN_TEST_TRUSTED_ORIGIN").unwrap_or_else(|| "http://localhost:5173".into());
        Target {
            base_url: base_url.trim_end_matches('/').to_owned(),
            style,
            trusted_origin,
        }
    }

    /// [`Target::url`] with the route's `{…}` segment (`{provider}`, `{id}`) filled in.
    pub fn url_with(&self, endpoint: Endpoint, segment: &str) -> String {
        let route = endpoint.path();
        let start = route.find('{').expect("the route has a {…} segment");
        let end = start + route[start..].find('}').expect("the segment ends") + 1;
        self.url(endpoint).replacen(&route[start..end], segment, 1)
    }

    /// The full URL that reaches `endpoint` on this deployment.
    pub fn url(&self, endpoint: Endpoint) -> String {
        match self.style {
            UrlStyle::Paths => format!("{}{}", self.base_url, endpoint.path()),
            UrlStyle::LambdaUrl => {
                format!(
                    "{}/lambda-url/{}{}",
                    self.base_url,
                    endpoint.function_name(),
                    endpoint.path()
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_both_styles() {
        let mut t = Target {
            base_url: "http://h:1".into(),
            style: UrlStyle::Paths,
            trusted_origin: String::new(),
        };
        assert_eq!(t.url(Endpoint::SignOutAll), "http://h:1/auth/sign-out/all");
        t.style = UrlStyle::LambdaUrl;
        assert_eq!(
            t.url(Endpoint::SignOutAll),
            "http://h:1/lambda-url/sign-out-all/auth/sign-out/all"
        );
        assert_eq!(
            t.url_with(Endpoint::SessionRevoke, "abc"),
            "http://h:1/lambda-url/session-revoke/auth/sessions/abc/revoke"
        );
    }
}
