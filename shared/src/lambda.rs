//! The AWS Lambda adapter: turns `lambda_http` events into [`HttpRequest`]s and back. Each
//! function crate is one call to [`serve`] (or [`serve_with_http_client`]).

use std::sync::Arc;

use bytes::Bytes;
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt, service_fn};

use crate::access_log::RequestLog;
use crate::events::RequestId;
use crate::request::{ClientIp, HttpRequest};
use crate::ses::{MailFrom, SesMailer};
use crate::settings::Settings;
use crate::store::dynamodb::DynamoStore;
use crate::{App, Config, Endpoint};

/// Builds the app from the environment once per cold start (`AUTHFN_*` settings, plus
/// `AUTHFN_TABLE` and, for local testing, `AUTHFN_DYNAMODB_ENDPOINT`; for an endpoint that
/// sends mail, `AUTHFN_MAIL_FROM` and, for local testing, `AUTHFN_SES_ENDPOINT`), then serves
/// `endpoint` for every invocation.
pub async fn serve(endpoint: Endpoint) -> Result<(), lambda_http::Error> {
    if endpoint.makes_outbound_calls() {
        return Err(format!(
            "{endpoint:?} makes outbound calls: serve it with serve_with_http_client"
        )
        .into());
    }
    run(endpoint, app_from_env().await?).await
}

/// [`serve`] for the endpoints that make outbound calls: the app also gets an HTTPS
/// client. A separate entry point so that the other functions' binaries do not link one.
pub async fn serve_with_http_client(endpoint: Endpoint) -> Result<(), lambda_http::Error> {
    let client = crate::federation::outbound::NativeHttpClient::new();
    run(
        endpoint,
        app_from_env().await?.with_http_client(Arc::new(client)),
    )
    .await
}

async fn run(endpoint: Endpoint, app: App) -> Result<(), lambda_http::Error> {
    app.check_can_serve(endpoint)?;
    // Only the functions that send mail build an SES client, and they refuse to start
    // without a From address rather than fail at the first sign-up.
    let app = if app.sends_mail(endpoint) {
        app.with_mailer(Arc::new(mailer_from_env().await?))
    } else {
        app
    };
    let app = Arc::new(app);
    lambda_http::run(service_fn(move |event: lambda_http::Request| {
        let app = Arc::clone(&app);
        async move {
            let request_id = request_id(&event);
            let mut req = into_http(event);
            req.extensions_mut().insert(RequestId(request_id.clone()));
            let log = RequestLog::start(&req, request_id).served_by(endpoint);
            let res = app.handle(endpoint, req).await;
            // stderr is the function's CloudWatch log stream: the request's security events,
            // then its access line.
            for line in crate::events::log_lines(&res) {
                eprintln!("{line}");
            }
            eprintln!("{}", log.finish(&res).json());
            Ok::<_, std::convert::Infallible>(res)
        }
    }))
    .await
}

/// API Gateway's id for the request (what its access log and the `apigw-requestid` header
/// show), else the invocation's.
fn request_id(event: &lambda_http::Request) -> String {
    let gateway = match event.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.request_id.clone(),
        _ => None,
    };
    gateway
        .or_else(|| event.lambda_context_ref().map(|c| c.request_id.clone()))
        .unwrap_or_default()
}

/// The app a function serves, from its environment and its DynamoDB table (`AUTHFN_TABLE`).
pub async fn app_from_env() -> Result<App, lambda_http::Error> {
    // The whole chain as the message: the runtime prints the error, not its causes.
    let config = Config::from_env().map_err(|e| crate::error::chain(&e))?;
    let table = std::env::var("AUTHFN_TABLE").map_err(|_| "AUTHFN_TABLE is required")?;
    let endpoint_url = std::env::var("AUTHFN_DYNAMODB_ENDPOINT")
        .ok()
        .filter(|s| !s.is_empty());
    let store = DynamoStore::connect_in_lambda(table, endpoint_url).await;
    Ok(App::new(config, Arc::new(store)).map_err(|e| crate::error::chain(&e))?)
}

/// The SES mailer of a function that sends mail: `AUTHFN_MAIL_FROM` (required) and, for
/// local testing, `AUTHFN_SES_ENDPOINT`.
pub async fn mailer_from_env() -> Result<SesMailer, lambda_http::Error> {
    let env = |name: &str| std::env::var(name).ok();
    let settings = Settings::new(&env);
    let from = MailFrom::from_settings(&settings).map_err(|e| crate::error::chain(&e))?;
    let endpoint_url =
        crate::ses::endpoint_from_settings(&settings).map_err(|e| crate::error::chain(&e))?;
    // The SDK appends the operation's path (`/v2/email/…`) to the endpoint's.
    let endpoint_url = endpoint_url.map(|url| url.as_str().trim_end_matches('/').to_owned());
    Ok(SesMailer::connect_in_lambda(from, endpoint_url).await)
}

/// The client IP comes from API Gateway's view of the connection, which the client cannot set.
fn into_http(event: lambda_http::Request) -> HttpRequest {
    let source_ip = match event.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.identity.source_ip.clone(),
        _ => None,
    };
    let (parts, body) = event.into_parts();
    let body = match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    let mut req = http::Request::from_parts(parts, body);
    if let Some(ip) = source_ip {
        req.extensions_mut().insert(ClientIp(ip));
    }
    req
}
