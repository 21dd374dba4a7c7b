//! The API's description, served by the dev server only (no deployment has these routes):
//! `GET /openapi.yaml`, the repository's `openapi.yaml` as built in, and `GET /docs`, a page
//! that renders it with Scalar (`@scalar/api-reference`, pinned in the root package.json).
//! The renderer is read from the repository's `node_modules` when asked for, so `cargo build`
//! needs no npm; without it, `/docs` says how to install it. No CDN: the page's CSP lets it
//! load and send nothing beyond this server.

use std::path::PathBuf;

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use axum::routing::get;
use http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use http::{HeaderValue, StatusCode};

const DOCUMENT: &str = include_str!("../../openapi.yaml");
const PAGE: &str = include_str!("../static/docs.html");
const SETTINGS: &str = include_str!("../static/docs.js");

/// Where the renderer's browser bundle is, below a `node_modules` folder.
const RENDERER: &str = "@scalar/api-reference/dist/browser/standalone.js";

/// Scripts and styles from this server only (Scalar's components set inline styles, which
/// cannot run code), requests to it only, no framing, no form posting anywhere.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The documentation routes, for any router state.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/openapi.yaml", get(|| async { document() }))
        .route("/docs", get(|| async { page(renderer_path()) }))
        .route("/docs/init.js", get(|| async { settings() }))
        .route(
            "/docs/scalar.js",
            get(|| async { renderer(renderer_path()).await }),
        )
}

/// The renderer in the repository this binary was built from, or else below the working
/// directory (a checkout moved after the build).
fn renderer_path() -> Option<PathBuf> {
    let built_from = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../node_modules");
    [built_from, PathBuf::from("node_modules")]
        .into_iter()
        .map(|dir| dir.join(RENDERER))
        .find(|path| path.is_file())
}

fn document() -> Response {
    // RFC 9512's media type for YAML.
    answer(StatusCode::OK, "application/yaml", Body::from(DOCUMENT))
}

fn settings() -> Response {
    answer(
        StatusCode::OK,
        "text/javascript; charset=utf-8",
        Body::from(SETTINGS),
    )
}

fn page(renderer: Option<PathBuf>) -> Response {
    let mut res = match renderer {
        Some(_) => answer(StatusCode::OK, "text/html; charset=utf-8", Body::from(PAGE)),
        None => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/html; charset=utf-8",
            Body::from(MISSING),
        ),
    };
    let h = res.headers_mut();
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}

/// What `/docs` says when the renderer is not installed.
const MISSING: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
    <title>authfn API</title></head><body><h1>The documentation page needs its renderer</h1>\
    <p>Run <code>npm ci</code> at the repository root (<code>./dev.sh</code> does), then \
    reload. The description itself is at <a href=\"/openapi.yaml\">/openapi.yaml</a>.</p>\
    </body></html>";

async fn renderer(path: Option<PathBuf>) -> Response {
    let read = match path {
        Some(path) => tokio::fs::read(path).await.ok(),
        None => None,
    };
    match read {
        Some(bytes) => answer(
            StatusCode::OK,
            "text/javascript; charset=utf-8",
            Body::from(bytes),
        ),
        None => answer(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            Body::from("the renderer is not installed: run `npm ci` at the repository root\n"),
        ),
    }
}

fn answer(status: StatusCode, content_type: &'static str, body: Body) -> Response {
    let mut res = Response::new(body);
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    // A dev server's files change under it: never a stale copy.
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    res
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    async fn text(res: Response) -> String {
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn the_description_is_the_repositorys_openapi_yaml() {
        let res = document();
        assert_eq!(res.headers()[CONTENT_TYPE], "application/yaml");
        let body = text(res).await;
        assert!(body.starts_with("openapi: 3.1"), "{}", &body[..40]);
        assert!(body.contains("\n  /auth/sign-in:\n"));
    }

    #[tokio::test]
    async fn the_page_loads_only_this_servers_scripts_under_a_strict_csp() {
        let res = page(Some(PathBuf::from("standalone.js")));
        assert_eq!(res.status(), StatusCode::OK);
        let csp = res.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(csp.contains("connect-src 'self';"), "{csp}");
        assert!(!csp.contains("http"), "no other origin: {csp}");
        assert_eq!(res.headers()[X_FRAME_OPTIONS], "DENY");
        let html = text(res).await;
        assert!(html.contains(r#"<script src="/docs/scalar.js"></script>"#));
        assert!(html.contains(r#"<script src="/docs/init.js"></script>"#));
        assert!(
            !html.contains("<script>") && !html.contains("http"),
            "no inline script, no CDN: {html}"
        );
        assert!(SETTINGS.contains("url: '/openapi.yaml'"));
        assert!(SETTINGS.contains("telemetry: false"));
    }

    #[tokio::test]
    async fn without_the_renderer_the_page_says_how_to_install_it() {
        let res = page(None);
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(text(res).await.contains("npm ci"));
        let script = renderer(None).await;
        assert_eq!(script.status(), StatusCode::NOT_FOUND);
        assert!(text(script).await.contains("npm ci"));
    }

    #[tokio::test]
    async fn the_renderer_is_served_from_node_modules_as_javascript() {
        let dir = std::env::temp_dir().join(format!("authfn-docs-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("standalone.js");
        std::fs::write(&file, "window.Scalar = {};").unwrap();
        let res = renderer(Some(file)).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()[CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(text(res).await, "window.Scalar = {};");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn no_deployment_serves_the_documentation() {
        let (config, _) = crate::config::load(|_| None, 3000).unwrap();
        let app = authfn::App::new(
            config,
            std::sync::Arc::new(authfn::store::MemoryStore::new()),
        )
        .unwrap();
        for path in ["/openapi.yaml", "/docs", "/docs/scalar.js"] {
            let req = http::Request::get(path).body(bytes::Bytes::new()).unwrap();
            assert_eq!(
                app.route(req).await.status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
    }
}
