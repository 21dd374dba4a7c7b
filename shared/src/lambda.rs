//! The AWS Lambda adapter: turns `lambda_http` events into [`HttpRequest`]s and back. Each
//! function crate is one call to [`serve`] (or [`serve_with_http_client`]) with its endpoint's
//! type, `authfn::lambda::serve::<authfn::functions::Session>()`, so that its binary links its
//! endpoint's handler and no other.

use std::sync::Arc;

use bytes::Bytes;
use lambda_http::request::RequestContext;
use lambda_http::{Body, IntoResponse, RequestExt, service_fn};

use crate::access_log::RequestLog;
use crate::events::RequestId;
use crate::events::eventbridge::{self, EventBridgeBus, EventBusName};
use crate::metrics::{RequestMetrics, StoreTimer};
use crate::request::{ClientIp, HttpRequest};
use crate::response::HttpResponse;
use crate::ses::{MailFrom, SesMailer};
use crate::settings::Settings;
use crate::store::dynamodb::DynamoStore;
use crate::{App, Config, Endpoint, Handler};

/// Builds the app from the environment once per cold start (`AUTHFN_*` settings, plus
/// `AUTHFN_TABLE` and, for local testing, `AUTHFN_DYNAMODB_ENDPOINT`; for an endpoint that
/// sends mail, `AUTHFN_MAIL_FROM` and, for local testing, `AUTHFN_SES_ENDPOINT`; for the
/// event bus, `AUTHFN_EVENT_BUS` and, for local testing, `AUTHFN_EVENTBRIDGE_ENDPOINT`), then
/// serves the endpoint `H` for every invocation.
pub async fn serve<H: Handler>() -> Result<(), lambda_http::Error> {
    let endpoint = H::ENDPOINT;
    if endpoint.makes_outbound_calls() {
        return Err(format!(
            "{endpoint:?} makes outbound calls: serve it with serve_with_http_client"
        )
        .into());
    }
    let (app, store_timer) = timed_app_from_env().await?;
    run::<H>(app, store_timer).await
}

/// [`serve`] for the endpoints that make outbound calls: the app also gets an HTTPS
/// client. A separate entry point so that the other functions' binaries do not link one.
pub async fn serve_with_http_client<H: Handler>() -> Result<(), lambda_http::Error> {
    let client = crate::federation::outbound::NativeHttpClient::new();
    let (app, store_timer) = timed_app_from_env().await?;
    run::<H>(app.with_http_client(Arc::new(client)), store_timer).await
}

async fn run<H: Handler>(app: App, store_timer: StoreTimer) -> Result<(), lambda_http::Error> {
    let endpoint = H::ENDPOINT;
    app.check_can_serve(endpoint)?;
    // Only the functions that send mail build an SES client, and they refuse to start
    // without a From address rather than fail at the first sign-up. Decided at compile time
    // first, so that the others' binaries do not link the SES client.
    let may_send_mail = const { H::ENDPOINT.sends_mail() || H::ENDPOINT.signs_in() };
    let app = if may_send_mail && app.sends_mail(endpoint) {
        app.with_mailer(Arc::new(unlinked_unless_called(mailer_from_env()).await?))
    } else {
        app
    };
    // Only the functions that can record events build an EventBridge client (and link one),
    // and only when the deployment has a bus.
    let app = if const { H::ENDPOINT.may_record_events() } {
        match unlinked_unless_called(event_bus_from_env(endpoint)).await? {
            Some(bus) => app.with_event_bus(Arc::new(bus)),
            None => app,
        }
    } else {
        app
    };
    let app = Arc::new(app);
    let service: Arc<str> = std::env::var(crate::metrics::SERVICE_SETTING)
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| crate::metrics::NAMESPACE.to_owned())
        .into();
    lambda_http::run(service_fn(move |event: lambda_http::Request| {
        let (app, store_timer, service) =
            (Arc::clone(&app), store_timer.clone(), Arc::clone(&service));
        async move {
            let request_id = request_id(&event);
            let mut req = into_http(event);
            req.extensions_mut().insert(RequestId(request_id.clone()));
            let log = RequestLog::start(&req, request_id).served_by(endpoint);
            // An instance serves one request at a time: the timer's calls from now on are this
            // request's.
            store_timer.take();
            let res = app.handle_function::<H>(req).await;
            // stderr is the function's CloudWatch log stream: the request's security events,
            // its access line, then its metrics (embedded metric format).
            for line in crate::events::log_lines(&res) {
                eprintln!("{line}");
            }
            eprintln!("{}", log.finish(&res).json());
            let metrics = RequestMetrics::of(&res).with_store_latency(store_timer.take());
            eprintln!(
                "{}",
                metrics.emf_line(&service, endpoint.function_name(), now_ms())
            );
            Ok::<_, std::convert::Infallible>(Answer(res))
        }
    }))
    .await
}

/// `setup`, awaited through a pointer. A future awaited in a branch that is dead at compile
/// time is still linked, its poll reachable from the state machine's jump table; a boxed one
/// is reached only through the vtable that the dead branch would have built.
fn unlinked_unless_called<'a, T>(
    setup: impl Future<Output = T> + 'a,
) -> std::pin::Pin<Box<dyn Future<Output = T> + 'a>> {
    Box::pin(setup)
}

/// A response as the function returns it to `lambda_http`: the body as text, as it is. Every
/// authfn body is UTF-8 (JSON or HTML), and `lambda_http`'s own conversion of an
/// `http::Response`, which decodes the body by its `charset`, would link a decoder for every
/// encoding `encoding_rs` knows into every function.
struct Answer(HttpResponse);

impl IntoResponse for Answer {
    // `lambda_http::ResponseFuture`, which it does not export.
    fn into_response(self) -> std::pin::Pin<Box<dyn Future<Output = http::Response<Body>> + Send>> {
        let (parts, body) = self.0.into_parts();
        Box::pin(std::future::ready(http::Response::from_parts(
            parts,
            Body::Text(body),
        )))
    }
}

/// Milliseconds since the epoch: the metrics' timestamp.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
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
    Ok(timed_app_from_env().await?.0)
}

/// [`app_from_env`], and the timer of its store's calls (the `StoreLatency` metric).
async fn timed_app_from_env() -> Result<(App, StoreTimer), lambda_http::Error> {
    // The whole chain as the message: the runtime prints the error, not its causes.
    let config = Config::from_env().map_err(|e| crate::error::chain(&e))?;
    let table = std::env::var("AUTHFN_TABLE").map_err(|_| "AUTHFN_TABLE is required")?;
    let endpoint_url = std::env::var("AUTHFN_DYNAMODB_ENDPOINT")
        .ok()
        .filter(|s| !s.is_empty());
    let timer = StoreTimer::default();
    let store = DynamoStore::connect_in_lambda_timed(table, endpoint_url, timer.clone()).await;
    let app = App::new(config, Arc::new(store)).map_err(|e| crate::error::chain(&e))?;
    Ok((app, timer))
}

/// The EventBridge bus of a function that can record events, when the deployment has one:
/// `AUTHFN_EVENT_BUS` (a name or an ARN) and, for local testing, `AUTHFN_EVENTBRIDGE_ENDPOINT`.
pub async fn event_bus_from_env(
    endpoint: Endpoint,
) -> Result<Option<EventBridgeBus>, lambda_http::Error> {
    if !endpoint.may_record_events() {
        return Ok(None);
    }
    let env = |name: &str| std::env::var(name).ok();
    let settings = Settings::new(&env);
    let Some(bus) = EventBusName::from_settings(&settings).map_err(|e| crate::error::chain(&e))?
    else {
        return Ok(None);
    };
    let endpoint_url =
        eventbridge::endpoint_from_settings(&settings).map_err(|e| crate::error::chain(&e))?;
    let endpoint_url = endpoint_url.map(|url| url.as_str().trim_end_matches('/').to_owned());
    Ok(Some(
        EventBridgeBus::connect_in_lambda(bus, endpoint_url).await,
    ))
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
