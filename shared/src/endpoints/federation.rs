//! `GET /auth/federation/{provider}/begin` and `GET|POST /auth/federation/{provider}/callback`:
//! sign-in through an upstream OpenID provider (authorization code + PKCE, `state`, `nonce`).

use std::time::Duration;

use http::header::{ACCEPT, LOCATION, SET_COOKIE};
use http::{HeaderValue, Method, StatusCode};
use serde::Serialize;

use super::credentials::{SessionDelivery, device_cookie, presented_device};
use super::mfa::{self, Proven, SignInStep};
use crate::App;
use crate::clock::UnixTime;
use crate::email::Email;
use crate::error::ApiError;
use crate::events::{AuthMethod, Event, EventType};
use crate::federation::attempt::{AuthorizationCode, Binding, State, attempt_key};
use crate::federation::config::ProviderConfig;
use crate::federation::discovery::{self, DiscoveryError};
use crate::federation::id_token::{self, Expected, IdTokenClaims, IdTokenError};
use crate::federation::outbound::{HttpClient, OutboundRequest};
use crate::request::{HttpRequest, Params, form_body};
use crate::response::{self, ErrorDetail, HttpResponse};
use crate::store::{FederatedIdentity, FederationAttempt, Insert, SessionRecord, UserRecord};
use crate::token::{SessionToken, UserId};

/// How long a sign-in may take between begin and callback.
pub const ATTEMPT_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// Starts a sign-in at the named provider: records the attempt, binds it to this browser by a
/// cookie, and sends the browser there (or gives a JSON fetch the URL).
pub async fn begin(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let provider = provider_of(app, req)?;
    app.rate_limit(req, "federation").await?;
    let params = Params::parse(req.uri().query().unwrap_or(""))?;
    let return_to = allowed_return_to(app, &params)?;
    let client = http_client(app)?;
    let (metadata, _) = discovery::provider(client, &provider.issuer, app.now())
        .await
        .map_err(unavailable)?;

    let state = State::generate()?;
    let binding = Binding::generate()?;
    let wants_json = wants_json(req);
    app.store
        .put_federation_attempt(&FederationAttempt {
            key: attempt_key(&state, &binding),
            binding_hash: binding.hash(),
            provider: provider.name.as_str().to_owned(),
            return_to,
            wants_json,
            expires_at: app.now().plus(ATTEMPT_LIFETIME),
        })
        .await?;

    let mut url = url::Url::parse(&metadata.authorization_endpoint).map_err(|e| {
        ApiError::IdpUnavailable(crate::error::context(
            "authorization_endpoint is not a URL",
            e,
        ))
    })?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", provider.client_id.as_str())
        .append_pair(
            "redirect_uri",
            &app.config.federation.redirect_uri(&provider.name),
        )
        .append_pair("scope", provider.scopes.as_str())
        .append_pair("state", state.secret())
        .append_pair("nonce", binding.nonce().secret())
        .append_pair("code_challenge", &binding.pkce_challenge())
        .append_pair("code_challenge_method", "S256")
        .append_pair("response_mode", provider.response_mode.as_str());

    let mut res = if wants_json {
        #[derive(Serialize)]
        struct Begun<'a> {
            authorization_url: &'a str,
        }
        response::json(
            StatusCode::OK,
            &Begun {
                authorization_url: url.as_str(),
            },
        )
    } else {
        redirect(url.as_str())?
    };
    let cookie = crate::cookie::federation_binding(
        &app.config.cookie,
        binding.secret(),
        ATTEMPT_LIFETIME,
        provider.response_mode,
    );
    append_cookie(&mut res, &cookie);
    Ok(res)
}

/// Finishes a sign-in when the provider sends the browser back: checks the attempt, redeems
/// the code, verifies the ID token, then starts a session.
pub async fn callback(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let provider = provider_of(app, req)?;
    app.rate_limit(req, "federation-callback").await?;
    let params = if req.method() == Method::POST {
        Params::parse(form_body(req, &app.config)?)?
    } else {
        Params::parse(req.uri().query().unwrap_or(""))?
    };
    if req.method() == Method::GET && params.get(FINISH).is_some() {
        return finish(app, req, &params).await;
    }
    // Consumed first, whatever the rest says: with its browser's binding, a state is good for
    // one try.
    let attempt = take_attempt(app, req, provider, &params).await;
    // Where a failure is reported: the SPA page this sign-in began on, or the first return
    // URL when the state says nothing trustworthy. Both come from AUTHFN_RETURN_TO.
    let (return_to, json) = match &attempt {
        Ok((attempt, _)) => (Some(attempt.return_to.clone()), attempt.wants_json),
        Err(_) => (
            app.config.federation.return_to(None).map(str::to_owned),
            false,
        ),
    };
    let outcome = match attempt {
        Ok((attempt, binding)) => complete(app, req, provider, &params, &attempt, &binding).await,
        Err(e) => Err(e),
    };
    let mut res = match outcome {
        Ok(res) => res,
        Err(e) => {
            let code = e.code();
            let json_error = HttpResponse::from(e);
            match return_to {
                // A browser lands back in the SPA, which reads `authfn_error`, rather than on
                // a JSON page of the auth host. The log still gets the error.
                Some(url) if !json && !wants_json(req) => {
                    let mut res = redirect(&with_error(&url, code))?;
                    if let Some(detail) = json_error.extensions().get::<response::ErrorDetail>() {
                        res.extensions_mut().insert(detail.clone());
                    }
                    res
                }
                _ => json_error,
            }
        }
    };
    // Whatever happened, the attempt is over: the binding cookie goes.
    append_cookie(
        &mut res,
        &crate::cookie::federation_binding(
            &app.config.cookie,
            "",
            Duration::ZERO,
            provider.response_mode,
        ),
    );
    Ok(res)
}

/// `url` with `authfn_error=<code>` added to its query.
fn with_error(url: &str, code: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            parsed.query_pairs_mut().append_pair("authfn_error", code);
            parsed.into()
        }
        // AUTHFN_RETURN_TO entries are checked URLs; this is only a fallback.
        Err(_) => url.to_owned(),
    }
}

/// The attempt this callback answers, and the browser binding that found it. The attempt is
/// stored under its state and binding together, so a request without this browser's binding
/// cookie (a leaked or forwarded callback URL) finds nothing and leaves the attempt to its
/// browser.
async fn take_attempt(
    app: &App,
    req: &HttpRequest,
    provider: &ProviderConfig,
    params: &Params,
) -> Result<(FederationAttempt, Binding), ApiError> {
    let state = params
        .get("state")
        .and_then(State::presented)
        .ok_or(ApiError::InvalidState("state is missing"))?;
    // Normally one cookie; a few more are tried in case a stale copy rides along.
    let bindings = crate::cookie::find(req.headers(), app.config.cookie.federation_name())
        .into_iter()
        .filter_map(Binding::presented);
    for binding in bindings.take(3) {
        if let Some(attempt) = app
            .store
            .take_federation_attempt(&attempt_key(&state, &binding), app.now())
            .await?
        {
            if attempt.provider != provider.name.as_str() {
                return Err(ApiError::InvalidState("state belongs to another provider"));
            }
            return Ok((attempt, binding));
        }
    }
    Err(ApiError::InvalidState(
        "state is unknown, already used or expired, or this sign-in was started in another browser",
    ))
}

async fn complete(
    app: &App,
    req: &HttpRequest,
    provider: &ProviderConfig,
    params: &Params,
    attempt: &FederationAttempt,
    binding: &Binding,
) -> Result<HttpResponse, ApiError> {
    let client = http_client(app)?;
    let now = app.now();
    let (metadata, keys) = discovery::provider(client, &provider.issuer, now)
        .await
        .map_err(unavailable)?;
    // RFC 9207 (mix-up defence), checked before anything else in the answer, errors included.
    match params.get("iss") {
        Some(iss) if iss != provider.issuer.as_str() => {
            return Err(ApiError::InvalidState(
                "the answer came from another identity provider",
            ));
        }
        None if metadata.authorization_response_iss_parameter_supported => {
            return Err(ApiError::InvalidState(
                "the answer does not name its identity provider (iss is missing)",
            ));
        }
        _ => {}
    }
    if let Some(code) = params.get("error") {
        return Err(ApiError::IdpError {
            code: protocol_code(code),
        });
    }
    let code = params
        .get("code")
        .map(AuthorizationCode::presented)
        .ok_or_else(|| ApiError::invalid_field("code", "is missing"))?;
    let id_token = exchange_code(
        app,
        client,
        provider,
        &metadata.token_endpoint,
        code,
        binding,
    )
    .await?;

    let expected = Expected {
        issuer: provider.issuer.as_str(),
        client_id: provider.client_id.as_str(),
        nonce: &binding.nonce(),
        now,
    };
    let claims = match id_token::validate(&id_token, &keys, &expected).await {
        Err(IdTokenError::UnknownKey) => {
            // The provider may have rotated its keys since we cached them.
            let fresh = discovery::refetch_keys(client, &provider.issuer, now)
                .await
                .map_err(unavailable)?;
            let fresh = fresh.ok_or_else(|| ApiError::InvalidIdToken(IdTokenError::UnknownKey))?;
            id_token::validate(&id_token, &fresh, &expected).await
        }
        other => other,
    }
    .map_err(ApiError::InvalidIdToken)?;

    // A form_post callback is the browser's navigation from the provider's page, whatever
    // the sign-in began with: only a POST that itself asks for JSON is answered in JSON.
    let json = wants_json(req) || (attempt.wants_json && req.method() != Method::POST);
    // A form_post callback is a cross-site POST, which does not carry the Lax cookies (the
    // session, the device): the new session is handed to a same-site step that carries them.
    let handoff = req.method() == Method::POST && !json;
    let (session, token, notice_failed) = match resolve_user(app, req, provider, &claims).await? {
        // Through the gate: with AUTHFN_MFA_FOR_FEDERATED an account with a second factor
        // still needs it.
        Resolved::Existing(user) => {
            let proven = Proven::federated(provider.name.as_str());
            let proven = if handoff {
                proven.device_checked_later()
            } else {
                proven
            };
            match app.pass_first_factor(req, &user, proven).await? {
                SignInStep::SignedIn {
                    session,
                    token,
                    notice_failed,
                } => (session, token, notice_failed),
                pending @ SignInStep::SecondFactor { .. } => {
                    return second_factor_required(app, req, pending, json, &attempt.return_to)
                        .await;
                }
            }
        }
        Resolved::Created(session, token) => (session, token, None),
    };
    let signed = token.sign(&session.user_id, &app.config.session_keys);
    if handoff {
        // The session this browser had cannot be ended here, nor its device cookie read: the
        // finishing step (a 303 to this URL) does both.
        let mut res = see_other(&finish_url(app, provider, &attempt.return_to))?;
        let handoff = crate::cookie::federation_handoff(
            &app.config.cookie,
            signed.secret(),
            HANDOFF_LIFETIME,
        );
        append_cookie(&mut res, &handoff);
        return Ok(res);
    }
    // As with password sign-in, a session the browser arrived with is ended, never reused;
    // only now that the new one exists, so a failed sign-in signs no one out.
    end_previous_session(app, req, &token).await?;
    let cookie = crate::cookie::session(
        &app.config.cookie,
        &signed,
        app.config.session.absolute_lifetime,
    );
    let mut res = if json {
        #[derive(Serialize)]
        struct SignedIn<'a> {
            user_id: &'a str,
            session_id: &'a str,
            expires_at: UnixTime,
            return_to: &'a str,
        }
        let body = SignedIn {
            user_id: session.user_id.as_str(),
            session_id: session.id.as_str(),
            expires_at: session.expires_at,
            return_to: &attempt.return_to,
        };
        response::json(StatusCode::OK, &body)
    } else {
        redirect(&attempt.return_to)?
    };
    append_cookie(&mut res, &cookie);
    // As every sign-in does: this browser now vouches for the account (see `device`).
    append_cookie(&mut res, &device_cookie(app, &session.user_id)?);
    if let Some(detail) = notice_failed {
        res.extensions_mut().insert(detail);
    }
    Ok(res)
}

/// The answer to a federated sign-in that needs the account's second factor: in JSON, the
/// `mfa_required` answer sign-in gives; for a browser's navigation, the pending sign-in's
/// cookie and a redirect to `return_to` with the fragment `#mfa_required`, where the app asks
/// for the factor. No session is made or ended yet.
async fn second_factor_required(
    app: &App,
    req: &HttpRequest,
    pending: SignInStep,
    json: bool,
    return_to: &str,
) -> Result<HttpResponse, ApiError> {
    let answer = mfa::answer(app, req, pending, StatusCode::OK, SessionDelivery::Cookie).await?;
    if json {
        return Ok(answer);
    }
    let base = return_to
        .split_once('#')
        .map_or(return_to, |(base, _)| base);
    let target = format!("{base}#mfa_required");
    // A form_post callback is a POST: 303 makes the browser follow with a GET.
    let mut res = if req.method() == Method::POST {
        see_other(&target)?
    } else {
        redirect(&target)?
    };
    for cookie in answer.headers().get_all(SET_COOKIE) {
        res.headers_mut().append(SET_COOKIE, cookie.clone());
    }
    Ok(res)
}

/// The query parameter that marks the finishing step of a `form_post` sign-in.
const FINISH: &str = "finish";

/// How far apart an account's creation and its first session can be when one request made
/// both (the clock may tick between them).
const SAME_REQUEST: Duration = Duration::from_secs(5);

/// How long the browser has to follow the 303 to the finishing step.
const HANDOFF_LIFETIME: Duration = Duration::from_secs(60);

/// `{redirect_uri}?finish=1&return_to=…`: the callback URL, reached by a same-site GET.
fn finish_url(app: &App, provider: &ProviderConfig, return_to: &str) -> String {
    let mut url = app.config.federation.redirect_uri(&provider.name);
    url.push('?');
    url.push_str(
        &url::form_urlencoded::Serializer::new(String::new())
            .append_pair(FINISH, "1")
            .append_pair("return_to", return_to)
            .finish(),
    );
    url
}

/// The finishing step of a `form_post` sign-in: the browser's own GET after the callback's
/// 303, which carries the session cookie it arrived with (a top-level navigation carries Lax
/// cookies) and the handoff cookie holding its new session. The old session ends, the new
/// one becomes the session cookie.
///
/// It does something only with a handoff cookie, which only the callback sets, in the
/// response to a POST carrying this browser's binding: a cross-site page that sends a
/// browser here can neither sign it out (no handoff, nothing happens) nor sign it in as
/// someone else (it cannot set the cookie).
///
/// This step carries the device cookie the callback could not read: it hands over a new one,
/// and sends the new-device notice the callback left to it.
async fn finish(app: &App, req: &HttpRequest, params: &Params) -> Result<HttpResponse, ApiError> {
    let return_to = allowed_return_to(app, params)?;
    let keys = &app.config.session_keys;
    let handoff = crate::cookie::find(req.headers(), app.config.cookie.federation_handoff_name())
        .into_iter()
        .find_map(|v| SessionToken::verify(v, keys))
        // Handoffs live a minute: one signed before the user id rode along is simply stale.
        .and_then(|presented| Some((presented.token, presented.user?)));
    let Some((token, user)) = handoff else {
        let nothing_to_finish = ApiError::InvalidState("there is no sign-in to finish");
        return redirect(&with_error(&return_to, nothing_to_finish.code()));
    };
    end_previous_session(app, req, &token).await?;
    let cookie = crate::cookie::session(
        &app.config.cookie,
        &token.sign(&user, keys),
        app.config.session.absolute_lifetime,
    );
    let mut res = redirect(&return_to)?;
    append_cookie(&mut res, &cookie);
    append_cookie(
        &mut res,
        &crate::cookie::federation_handoff(&app.config.cookie, "", Duration::ZERO),
    );
    // The sign-in is done: a store that cannot say whose session this is costs the device
    // cookie and the notice, not the sign-in. (One that ended meanwhile needs neither.)
    if let Ok(Some(session)) = app.store.session(&token.hash(), app.now()).await {
        if let Some(detail) = notice_after_handoff(app, req, &session).await {
            res.extensions_mut().insert(detail);
        }
        append_cookie(&mut res, &device_cookie(app, &session.user_id)?);
    }
    Ok(res)
}

/// The new-device notice of a `form_post` sign-in, which its callback could not decide: the
/// device cookie rides along only now. Not for the account that sign-in made (its first
/// session was made with it, in the same request).
/// Returns why it failed, if it did, for the log line.
async fn notice_after_handoff(
    app: &App,
    req: &HttpRequest,
    session: &SessionRecord,
) -> Option<ErrorDetail> {
    if !app.config.new_device_mail || presented_device(app, req, None, &session.user_id).is_some() {
        return None;
    }
    let user = match app.store.user_by_id(&session.user_id).await {
        Ok(Some(user)) => user,
        Ok(None) => return None,
        Err(e) => {
            let e = ApiError::from(e);
            return Some(ErrorDetail {
                code: e.code(),
                cause: e.cause_chain(),
            });
        }
    };
    if session.created_at <= user.created_at.plus(SAME_REQUEST) {
        return None;
    }
    app.notice_new_device(req, &user, session, None).await
}

/// The `return_to` the request asks for, if it is on the list (the default when it asks none).
fn allowed_return_to(app: &App, params: &Params) -> Result<String, ApiError> {
    app.config
        .federation
        .return_to(params.get("return_to"))
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::invalid_field("return_to", "is not one of the configured return URLs")
        })
}

/// Ends the session the request presents, unless it is `new` itself.
async fn end_previous_session(
    app: &App,
    req: &HttpRequest,
    new: &SessionToken,
) -> Result<(), ApiError> {
    match app.presented_session(req) {
        Some(old) if old.token.hash() != new.hash() => Ok(app
            .store
            .delete_session(&old.token.hash(), app.now())
            .await?),
        _ => Ok(()),
    }
}

/// POSTs the code to the token endpoint and returns the ID token. Upstream access and refresh
/// tokens in the answer are dropped here: authfn never stores them.
async fn exchange_code(
    app: &App,
    client: &dyn HttpClient,
    provider: &ProviderConfig,
    token_endpoint: &str,
    code: AuthorizationCode,
    binding: &Binding,
) -> Result<String, ApiError> {
    let request = OutboundRequest::PostForm {
        url: token_endpoint.to_owned(),
        form: vec![
            ("grant_type", "authorization_code".into()),
            ("code", code.secret().to_owned()),
            (
                "redirect_uri",
                app.config.federation.redirect_uri(&provider.name),
            ),
            ("code_verifier", binding.pkce_verifier().secret().to_owned()),
        ],
        basic_auth: (provider.client_id.clone(), provider.client_secret.clone()),
    };
    let answer = client
        .send(request)
        .await
        .map_err(|e| ApiError::IdpUnavailable(crate::error::context("token endpoint", e)))?;
    #[derive(serde::Deserialize)]
    struct TokenAnswer {
        id_token: Option<String>,
        error: Option<String>,
    }
    let parsed: Option<TokenAnswer> = serde_json::from_slice(&answer.body).ok();
    match (answer.status, parsed) {
        (
            200,
            Some(TokenAnswer {
                id_token: Some(id_token),
                ..
            }),
        ) => Ok(id_token),
        (200, _) => Err(ApiError::IdpUnavailable(
            "token endpoint answered without an id_token".into(),
        )),
        (
            400..=499,
            Some(TokenAnswer {
                error: Some(code), ..
            }),
        ) => Err(ApiError::CodeExchangeFailed {
            code: protocol_code(&code),
        }),
        (status, _) => Err(ApiError::IdpUnavailable(
            format!("token endpoint answered HTTP {status}").into(),
        )),
    }
}

enum Resolved {
    /// A user who already exists; the sign-in's session is still to be made.
    Existing(UserRecord),
    /// A new user, written together with this sign-in's session.
    Created(SessionRecord, SessionToken),
}

/// The local user for a validated identity: the linked one, else a new or (when allowed) an
/// existing account with the same verified email.
async fn resolve_user(
    app: &App,
    req: &HttpRequest,
    provider: &ProviderConfig,
    claims: &IdTokenClaims,
) -> Result<Resolved, ApiError> {
    let identity = FederatedIdentity {
        issuer: claims.issuer.clone(),
        subject: claims.subject.clone(),
    };
    let verified_email = || {
        claims
            .email
            .as_deref()
            .and_then(|e| Email::parse(e).ok())
            .filter(|_| claims.email_verified)
            .ok_or(ApiError::EmailNotVerified)
    };
    // Every sign-in, not only the first: an account whose address at the provider has left
    // the allowed domains (or a list tightened since) no longer signs in.
    if provider.restricts_email_domains() && !provider.allows_email(&verified_email()?) {
        return Err(ApiError::EmailDomainNotAllowed);
    }
    // Two rounds at most: a concurrent first sign-in of the same identity may win the race.
    for _ in 0..2 {
        if let Some(record) = app.store.user_by_identity(&identity).await? {
            return Ok(Resolved::Existing(record));
        }
        let email = verified_email()?;
        if !provider.allows_email(&email) {
            return Err(ApiError::EmailDomainNotAllowed);
        }
        if let Some(existing) = app.store.user_by_email(&email).await? {
            // Linking hands the account to whoever holds this address at the provider: only an
            // address proven on this side too may be linked, or an attacker who signed up
            // first with the victim's address would be handed the victim's sign-in.
            if !provider.link_by_email || !existing.email_verified {
                return Err(ApiError::AccountExists);
            }
            match app.store.link_identity(&identity, &existing.id).await? {
                Insert::Inserted => {
                    app.record(
                        req,
                        Event::new(EventType::IdentityLinked)
                            .user(&existing.id)
                            .provider(provider.name.as_str()),
                    );
                    return Ok(Resolved::Existing(existing));
                }
                Insert::AlreadyExists => continue,
            }
        }
        let record = UserRecord {
            id: UserId::generate()?,
            email,
            password_hash: None,
            created_at: app.now(),
            // Only a provider-verified address gets this far.
            email_verified: true,
            session_epoch: 0,
            factors: crate::store::FactorSummary::default(),
        };
        let (session, token) = app.first_session(req, &record)?;
        match app
            .store
            .create_federated_user(&record, &identity, &session)
            .await?
        {
            Insert::Inserted => {
                let federated = |kind| {
                    Event::new(kind)
                        .user(&record.id)
                        .method(AuthMethod::Federated)
                        .provider(provider.name.as_str())
                };
                app.record(req, federated(EventType::SignUp));
                app.record(
                    req,
                    federated(EventType::SignInSucceeded).session(&session.id),
                );
                return Ok(Resolved::Created(session, token));
            }
            Insert::AlreadyExists => continue,
        }
    }
    Err(ApiError::StoreUnavailable(
        "concurrent sign-ins of this identity kept racing".into(),
    ))
}

fn provider_of<'a>(app: &'a App, req: &HttpRequest) -> Result<&'a ProviderConfig, ApiError> {
    let name = req.uri().path().split('/').nth(3).unwrap_or_default();
    app.config
        .federation
        .provider(name)
        .ok_or(ApiError::UnknownProvider)
}

fn http_client(app: &App) -> Result<&dyn HttpClient, ApiError> {
    app.http_client()
        .ok_or_else(|| ApiError::Internal("no outbound HTTP client is configured".into()))
}

fn unavailable(e: DiscoveryError) -> ApiError {
    ApiError::IdpUnavailable(Box::new(e))
}

fn wants_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.starts_with("application/json"))
}

fn redirect(location: &str) -> Result<HttpResponse, ApiError> {
    redirect_with(StatusCode::FOUND, location)
}

/// 303: the browser follows with a GET, whatever the method of the request it answers.
fn see_other(location: &str) -> Result<HttpResponse, ApiError> {
    redirect_with(StatusCode::SEE_OTHER, location)
}

fn redirect_with(status: StatusCode, location: &str) -> Result<HttpResponse, ApiError> {
    let mut res = response::no_content();
    *res.status_mut() = status;
    let value = HeaderValue::from_str(location)
        .map_err(|_| ApiError::Internal("redirect target is not a header value".into()))?;
    res.headers_mut().insert(LOCATION, value);
    Ok(res)
}

fn append_cookie(res: &mut HttpResponse, cookie: &str) {
    res.headers_mut().append(
        SET_COOKIE,
        HeaderValue::from_str(cookie).expect("cookies are ASCII"),
    );
}

/// An OAuth error code as echoed to the client: RFC 6749 limits codes to printable ASCII;
/// anything else (or anything long) is replaced, so a provider cannot inject text.
fn protocol_code(code: &str) -> String {
    let clean = code.len() <= 64
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if clean {
        code.to_owned()
    } else {
        "unrecognised_error".into()
    }
}
