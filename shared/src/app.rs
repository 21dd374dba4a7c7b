//! The application: configuration, store and clock, and the entry points the runtimes call:
//! [`App::handle_function`] in a function, [`App::route`] where one process serves them all.

use std::sync::Arc;

use http::Method;

use crate::clock::{Clock, SystemClock, UnixTime};
use crate::config::{Config, ConfigError};
use crate::endpoints::Endpoint;
#[cfg(not(target_arch = "wasm32"))]
use crate::endpoints::Handler;
use crate::error::ApiError;
use crate::events::{EventBus, Recorder};
use crate::federation::HttpClient;
use crate::mail::Mailer;
use crate::password::PasswordHasherConfig;
use crate::request::HttpRequest;
use crate::response::{self, HttpResponse};
use crate::store::Store;
use crate::store::usage::{MeteredRequest, UsageMeter};
use crate::{cors, csrf};

/// The longest URI authfn answers (414 above it): far beyond any route with its parameters,
/// and below the limits of the platforms in front (API Gateway, Cloudflare), so the client
/// gets authfn's JSON error rather than a platform page.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Everything a request needs: configuration, store, clock, outbound client and mailer. Built once per
/// instance (function, isolate or dev server) and shared by every request it serves.
pub struct App {
    pub(crate) config: Config,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) passwords: PasswordHasherConfig,
    clock: Arc<dyn Clock>,
    http_client: Option<Arc<dyn HttpClient>>,
    mailer: Option<Arc<dyn Mailer>>,
    event_bus: Option<Arc<dyn EventBus>>,
}

impl App {
    /// An app over this store with the system clock; fails if the password hasher cannot be
    /// set up from the configuration.
    pub fn new(config: Config, store: Arc<dyn Store>) -> Result<Self, ConfigError> {
        let passwords = PasswordHasherConfig::new(config.argon2).map_err(ConfigError::new)?;
        Ok(App {
            config,
            store,
            passwords,
            clock: Arc::new(SystemClock),
            http_client: None,
            mailer: None,
            event_bus: None,
        })
    }

    /// Refuses, at start-up, to serve an endpoint that needs the token issuer's secrets from a
    /// function that was given its public keys only.
    /// Also refuses an endpoint that mails links when no `AUTHFN_APP_URL` says where they
    /// should point, and one that reads TOTP secrets without `AUTHFN_DATA_KEYS`.
    pub fn check_can_serve(&self, endpoint: Endpoint) -> Result<(), ConfigError> {
        if let Some(issuer) = &self.config.oauth
            && endpoint.uses_issuer_secrets()
            && !issuer.has_secrets()
        {
            return Err(ConfigError::new(format!(
                "{} signs tokens or authenticates clients: it needs AUTHFN_JWT_KEYS and the client secrets, not AUTHFN_JWT_PUBLIC_KEYS",
                endpoint.function_name()
            )));
        }
        if self.mails_links(endpoint) && self.config.app_url.is_none() {
            return Err(ConfigError::new(format!(
                "{} mails links to your app: set AUTHFN_APP_URL to the app's URL",
                endpoint.function_name()
            )));
        }
        if endpoint.uses_data_keys() && self.config.data_keys.is_none() {
            return Err(ConfigError::new(format!(
                "{} reads or writes TOTP secrets: set AUTHFN_DATA_KEYS (infra/generate-keys.sh --data)",
                endpoint.function_name()
            )));
        }
        Ok(())
    }

    /// Whether `endpoint` sends mail under this configuration (sign-up mails nothing with
    /// verification off; the endpoints that sign in mail the new-device notice when
    /// `AUTHFN_NEW_DEVICE_MAIL` is on), so its runtime must give the app a mailer.
    pub fn sends_mail(&self, endpoint: Endpoint) -> bool {
        self.mails_links(endpoint) || (endpoint.signs_in() && self.config.new_device_mail)
    }

    /// Whether `endpoint` sends the mails of its own flow, links and notices about the
    /// account, under this configuration. (The new-device notice links nowhere.)
    fn mails_links(&self, endpoint: Endpoint) -> bool {
        endpoint.sends_mail()
            && !(endpoint == Endpoint::SignUp
                && self.config.email_verification == crate::config::EmailVerification::Off)
    }

    /// Replaces the system clock, so tests can move time.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Gives the app a client for calls to identity providers (federated sign-in needs one).
    pub fn with_http_client(mut self, client: Arc<dyn HttpClient>) -> Self {
        self.http_client = Some(client);
        self
    }

    pub(crate) fn http_client(&self) -> Option<&dyn HttpClient> {
        self.http_client.as_deref()
    }

    /// Gives the app somewhere to send mail (the flows that prove an address need one).
    pub fn with_mailer(mut self, mailer: Arc<dyn Mailer>) -> Self {
        self.mailer = Some(mailer);
        self
    }

    /// Sends `mail`; a deployment without a mailer is misconfigured, not the client's fault.
    pub(crate) async fn send_mail(&self, mail: &crate::mail::Mail) -> Result<(), ApiError> {
        let mailer = self
            .mailer
            .as_deref()
            .ok_or_else(|| ApiError::Internal("no mailer is configured".into()))?;
        Ok(mailer.send(mail).await?)
    }

    /// Publishes every security event to `bus` too (they are always logged).
    pub fn with_event_bus(mut self, bus: Arc<dyn EventBus>) -> Self {
        self.event_bus = Some(bus);
        self
    }

    pub(crate) fn event_bus(&self) -> Option<&dyn EventBus> {
        self.event_bus.as_deref()
    }

    /// How many argon2id runs (password hashes and verifications) this instance has made.
    pub fn argon2_runs(&self) -> u64 {
        self.passwords.runs()
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn now(&self) -> UnixTime {
        self.clock.now()
    }

    /// Serves one endpoint, `H`: the request path must be the endpoint's own. This is what
    /// each deployed function calls; the handler is chosen at compile time, so the function's
    /// binary links its own and no other.
    #[cfg(not(target_arch = "wasm32"))]
    pub async fn handle_function<H: Handler>(&self, req: HttpRequest) -> HttpResponse {
        self.handle_one(H::ENDPOINT, req, async |app: &App, req: &HttpRequest| {
            H::call(app, req).await
        })
        .await
    }

    /// [`App::handle_function`] for an endpoint chosen at run time (tests and benches), which
    /// links every handler.
    pub async fn handle(&self, endpoint: Endpoint, req: HttpRequest) -> HttpResponse {
        self.handle_one(endpoint, req, async |app: &App, req: &HttpRequest| {
            endpoint.call(app, req).await
        })
        .await
    }

    async fn handle_one(
        &self,
        endpoint: Endpoint,
        req: HttpRequest,
        handler: impl AsyncFnOnce(&App, &HttpRequest) -> Result<HttpResponse, ApiError>,
    ) -> HttpResponse {
        if uri_too_long(&req) {
            return self.refuse(
                &req,
                ApiError::UriTooLong {
                    limit: MAX_URI_BYTES,
                },
            );
        }
        if !endpoint.matches(req.uri().path()) {
            return self.refuse(&req, ApiError::NotFound);
        }
        self.serve(endpoint, req, handler).await
    }

    /// Serves any endpoint by path: what the local dev server (one process for all) calls.
    pub async fn route(&self, req: HttpRequest) -> HttpResponse {
        if uri_too_long(&req) {
            return self.refuse(
                &req,
                ApiError::UriTooLong {
                    limit: MAX_URI_BYTES,
                },
            );
        }
        match Endpoint::for_path(req.uri().path()) {
            Some(endpoint) => {
                let handler = async |app: &App, req: &HttpRequest| endpoint.call(app, req).await;
                self.serve(endpoint, req, handler).await
            }
            None => self.refuse(&req, ApiError::NotFound),
        }
    }

    /// The answer to a request that fails before an endpoint sees it, for runtime adapters
    /// (a body the client broke off, one too large to read): the same JSON error, CORS and
    /// security headers as every other answer, in RFC 6749 form on the OAuth endpoints.
    pub fn refuse(&self, req: &HttpRequest, e: ApiError) -> HttpResponse {
        let oauth_form = Endpoint::for_path(req.uri().path()).is_some_and(Endpoint::speaks_oauth);
        self.finish(req, oauth_form, Err(e))
    }

    /// Everything around the handler: preflight, method, CSRF, then the answer's headers and
    /// the request's events.
    async fn serve(
        &self,
        endpoint: Endpoint,
        mut req: HttpRequest,
        handler: impl AsyncFnOnce(&App, &HttpRequest) -> Result<HttpResponse, ApiError>,
    ) -> HttpResponse {
        if req.method() == Method::OPTIONS {
            let mut res = cors::preflight(&req, &self.config, &endpoint.method());
            response::forbid_caching(&mut res);
            response::harden(&mut res, self.config.hsts);
            return res;
        }
        let method_ok = endpoint.accepts(req.method())
            || (req.method() == Method::HEAD && endpoint.accepts(&Method::GET));
        let metered = self.store.usage().map(UsageMeter::begin);
        let result = if !method_ok {
            Err(ApiError::MethodNotAllowed {
                allow: endpoint.allow_header(),
            })
        } else if !endpoint.is_csrf_exempt()
            && let Err(e) = csrf::check(&req, &self.config)
        {
            Err(e)
        } else {
            req.extensions_mut().insert(Recorder::default());
            handler(self, &req).await
        };
        let mut res = self.finish(&req, endpoint.speaks_oauth(), result);
        self.deliver_events(&req, endpoint, &mut res).await;
        if let Some(usage) = metered.and_then(MeteredRequest::end) {
            res.extensions_mut().insert(usage);
        }
        res
    }

    fn finish(
        &self,
        req: &HttpRequest,
        oauth_form: bool,
        result: Result<HttpResponse, ApiError>,
    ) -> HttpResponse {
        let mut res = result.unwrap_or_else(|e| {
            let oauth_form = oauth_form || matches!(e, ApiError::OAuth { .. });
            response::error(e, oauth_form)
        });
        if req.method() == Method::HEAD {
            // Same status and headers as GET, and by definition no body.
            res.body_mut().clear();
        }
        cors::decorate(req, &self.config, &mut res);
        response::forbid_caching(&mut res);
        response::harden(&mut res, self.config.hsts);
        res
    }
}

fn uri_too_long(req: &HttpRequest) -> bool {
    let uri = req.uri();
    uri.path().len() + uri.query().map_or(0, str::len) > MAX_URI_BYTES
}
