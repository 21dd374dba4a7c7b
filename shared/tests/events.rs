//! Security events as users' journeys produce them: for each flow, the exact events in order
//! (type, account, session, method, reason, provider, client); the user's own activity; a
//! whole journey whose log lines hold none of the secrets it used; and the new-device notice
//! (`AUTHFN_NEW_DEVICE_MAIL`). Driven through `App::handle` with the manual clock; the events
//! are read back from an event bus that keeps them.

#![allow(
    clippy::unwrap_used,
    reason = "a test's panic is its failure report; clippy.toml covers #[test] bodies, not helpers"
)]
mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use authfn::UnixTime;
use authfn::events::{EventBus, EventBusError, SecurityEvent};
use authfn::totp::TotpSecret;
use authfn_blackbox::authenticator::{Algorithm, Authenticator};
use http::StatusCode;
use serde_json::{Value, json};
use support::idp::{FakeIdp, Login};
use support::issuer::*;
use support::*;

for_each_store!(
    signing_up_makes_the_account_when_the_address_is_proven,
    signing_up_without_verification_makes_the_account_at_once,
    sign_ins_succeed_fail_and_lock_with_the_account_when_it_is_known,
    a_refused_client_is_rate_limited_by_bucket_and_named_nowhere,
    a_second_factor_passes_or_fails_and_completes_the_sign_in_by_its_method,
    passkeys_sign_in_alone_or_as_second_factor_and_a_cloned_one_is_reported,
    sessions_end_by_sign_out_everywhere_or_expiry_and_each_is_told_once,
    passwords_change_and_reset_with_their_sessions,
    an_email_change_and_an_account_deletion_are_told,
    federated_sign_ins_make_link_and_reach_accounts,
    device_codes_tokens_refresh_reuse_and_revocation_are_told_with_their_client,
    a_failed_client_authentication_names_only_a_known_client,
    a_whole_journey_logs_no_secret_and_the_activity_holds_what_the_user_may_see,
    a_sign_in_from_a_new_device_mails_the_account_and_a_known_device_does_not,
    every_way_of_signing_in_an_existing_account_sends_the_notice_once,
    a_federated_sign_in_hands_over_a_device_cookie_and_notices_a_new_device,
);

const ADA: &str = "ada@example.com";
const OTHER_PASSWORD: &str = "a different passphrase entirely";
const CHROME_ON_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36";

/// Every event the app delivered: a bus that keeps them, the fresh ones apart.
#[derive(Default)]
struct Kept {
    fresh: Mutex<Vec<SecurityEvent>>,
    all: Mutex<Vec<SecurityEvent>>,
}

#[async_trait::async_trait]
impl EventBus for Kept {
    async fn publish(&self, events: &[SecurityEvent]) -> Result<(), EventBusError> {
        self.fresh.lock().unwrap().extend_from_slice(events);
        self.all.lock().unwrap().extend_from_slice(events);
        Ok(())
    }
}

/// A harness whose events are kept, with names for the ids they carry.
struct Journey {
    h: Harness,
    kept: Arc<Kept>,
    names: Mutex<HashMap<String, String>>,
}

impl Journey {
    fn new(mut h: Harness) -> Journey {
        let kept = Arc::new(Kept::default());
        h.app = h.app.with_event_bus(kept.clone());
        Journey {
            h,
            kept,
            names: Mutex::new(HashMap::new()),
        }
    }

    /// Calls `id` `label` in the events' descriptions.
    fn name(&self, label: &str, id: &Value) {
        let id = id
            .as_str()
            .unwrap_or_else(|| panic!("no id for {label}: {id}"));
        self.names
            .lock()
            .unwrap()
            .insert(id.to_owned(), label.to_owned());
    }

    /// Names the account of `email` `label`.
    async fn name_user(&self, label: &str, email: &str) {
        let email = authfn::email::Email::parse(email).unwrap();
        let user = self.h.store.user_by_email(&email).await.unwrap().unwrap();
        self.name(label, &json!(user.id.as_str()));
    }

    /// Names the session a cookie holds `label`.
    async fn name_session(&self, label: &str, cookie: &str) {
        let res = self.h.get("/auth/session", Some(cookie)).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        self.name(label, &res.json["session"]["id"]);
    }

    /// The events delivered since the last call, described.
    fn events(&self) -> Vec<String> {
        let fresh = std::mem::take(&mut *self.kept.fresh.lock().unwrap());
        fresh.iter().map(|e| self.describe(e)).collect()
    }

    /// `endpoint: event user=… session=… method=… reason=… provider=… client=…`, with the
    /// named ids by name.
    fn describe(&self, e: &SecurityEvent) -> String {
        let names = self.names.lock().unwrap();
        let name = |id: &str| {
            names
                .get(id)
                .cloned()
                .unwrap_or_else(|| format!("<unnamed {id}>"))
        };
        let mut line = format!(
            "{}: {}",
            e.endpoint.as_deref().unwrap_or("?"),
            e.event.name()
        );
        if let Some(user) = &e.user_id {
            line += &format!(" user={}", name(user.as_str()));
        }
        if let Some(session) = &e.session_id {
            line += &format!(" session={}", name(session.as_str()));
        }
        if let Some(method) = e.method {
            line += &format!(" method={}", json!(method).as_str().unwrap());
        }
        for (key, value) in [
            ("reason", &e.reason),
            ("provider", &e.provider),
            ("client", &e.client_id),
        ] {
            if let Some(value) = value {
                line += &format!(" {key}={value}");
            }
        }
        // The context every event carries, checked here once for all.
        assert_eq!(e.outcome, e.event.outcome(), "{line}");
        assert_eq!(e.client_ip.as_deref(), Some(CLIENT_IP), "{line}");
        assert!(!e.id.is_empty(), "{line}");
        line
    }

    fn session_cookie(&self, res: &Res) -> String {
        res.cookie_named(self.h.app.config().cookie.name())
    }

    fn pending_cookie(&self, res: &Res) -> String {
        res.cookie_named(self.h.app.config().cookie.pending_name())
    }

    fn device_cookie(&self, res: &Res) -> String {
        res.cookie_named(self.h.app.config().cookie.device_name())
    }

    /// A new account for `email`, proven and signed in; its session named `session`, the
    /// account `user`. The events of signing up are not this test's.
    async fn account(&self, user: &str, email: &str, session: &str) -> String {
        let res = self.h.sign_up(email, PASSWORD).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        self.name_user(user, email).await;
        self.name(session, &res.json["session_id"]);
        self.events();
        self.session_cookie(&res)
    }

    /// A fresh password sign-in of ADA from the browser that holds `cookie` (an account
    /// without a second factor needs nothing more).
    async fn signed_in_fresh(&self, cookie: &str) -> String {
        let res = self.h.sign_in_with_cookies(ADA, PASSWORD, cookie).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        self.session_cookie(&res)
    }

    /// Signs `email` in with the password; names the new session `session`.
    async fn signed_in(&self, email: &str, session: &str) -> String {
        let res = self.h.sign_in(email, PASSWORD).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        self.name(session, &res.json["session_id"]);
        self.session_cookie(&res)
    }
}

async fn signing_up_makes_the_account_when_the_address_is_proven(h: Harness) {
    let j = Journey::new(h);
    let asked = j.h.sign_up_request(ADA, PASSWORD).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.text);
    assert_eq!(j.events(), Vec::<String>::new(), "no account yet");
    let proof = mail_token(&j.h.latest_mail(ADA));
    let res =
        j.h.post_json("/auth/verify-email", json!({ "token": proof }), None)
            .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    j.name_user("ada", ADA).await;
    j.name("s1", &res.json["session_id"]);
    assert_eq!(
        j.events(),
        [
            "verify-email: sign_up user=ada method=password",
            "verify-email: email.verified user=ada",
            "verify-email: sign_in.succeeded user=ada session=s1 method=email_verification",
        ]
    );
}

async fn signing_up_without_verification_makes_the_account_at_once(h: Harness) {
    let j = Journey::new(h.reconfigure(&[("AUTHFN_EMAIL_VERIFICATION", "off")]));
    let res = j.h.sign_up_request(ADA, PASSWORD).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    j.name_user("ada", ADA).await;
    j.name("s1", &res.json["session_id"]);
    assert_eq!(
        j.events(),
        [
            "sign-up: sign_up user=ada method=password",
            "sign-up: sign_in.succeeded user=ada session=s1 method=password",
        ]
    );
}

async fn sign_ins_succeed_fail_and_lock_with_the_account_when_it_is_known(h: Harness) {
    let j = Journey::new(h);
    j.account("ada", ADA, "s1").await;
    let failed = "sign-in: sign_in.failed user=ada method=password reason=invalid_credentials";
    let locked = "sign-in: sign_in.locked user=ada method=password reason=account_locked";

    assert_eq!(
        j.h.sign_in("nobody@example.com", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        j.events(),
        ["sign-in: sign_in.failed method=password reason=invalid_credentials"],
        "an unknown address names no account"
    );
    assert_eq!(
        j.h.sign_in(ADA, OTHER_PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(j.events(), [failed]);
    j.signed_in(ADA, "s2").await;
    assert_eq!(
        j.events(),
        ["sign-in: sign_in.succeeded user=ada session=s2 method=password"]
    );

    // The fifth wrong password in the window is a failure that locks; then even the right
    // one is refused unchecked.
    for _ in 0..4 {
        j.h.sign_in(ADA, OTHER_PASSWORD).await;
    }
    assert_eq!(j.events(), [failed; 4]);
    let res = j.h.sign_in(ADA, OTHER_PASSWORD).await;
    assert_eq!(res.error(), (423, "account_locked"));
    assert_eq!(j.events(), [failed, locked]);
    let res = j.h.sign_in(ADA, PASSWORD).await;
    assert_eq!(res.error(), (423, "account_locked"));
    assert_eq!(j.events(), [locked]);
}

async fn a_refused_client_is_rate_limited_by_bucket_and_named_nowhere(h: Harness) {
    let j = Journey::new(h.reconfigure(&[("AUTHFN_RATE_LIMIT_PER_MINUTE", "1")]));
    j.h.sign_in(ADA, PASSWORD).await;
    j.events();
    assert_eq!(
        j.h.sign_in(ADA, PASSWORD).await.error(),
        (429, "rate_limited")
    );
    assert_eq!(j.events(), ["sign-in: rate_limited reason=sign-in"]);

    // An address's mail budget is a rate limit too: it names neither address nor account.
    let j = Journey::new(h);
    j.account("ada", ADA, "s1").await;
    for _ in 0..4 {
        let res =
            j.h.post_json("/auth/password/forgot", json!({ "email": ADA }), None)
                .await;
        assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text);
    }
    let res =
        j.h.post_json("/auth/password/forgot", json!({ "email": ADA }), None)
            .await;
    assert_eq!(res.error(), (429, "rate_limited"));
    assert_eq!(j.events(), ["password-forgot: rate_limited reason=mail-to"]);
}

/// Turns TOTP on for the signed-in account (`session` cookie); returns the secret and the
/// recovery codes, with the confirming code's time step behind.
async fn enable_totp(j: &Journey, session: &str) -> (TotpSecret, Vec<String>) {
    let begun =
        j.h.post_json(
            "/auth/mfa/totp/enroll",
            json!({ "current_password": PASSWORD }),
            Some(session),
        )
        .await;
    assert_eq!(begun.status, StatusCode::OK, "{}", begun.text);
    let secret = TotpSecret::from_base32(begun.json["secret"].as_str().unwrap()).unwrap();
    let code = secret.code_at(UnixTime(j.h.now())).unwrap();
    let on =
        j.h.post_json(
            "/auth/mfa/totp/confirm",
            json!({ "code": code }),
            Some(session),
        )
        .await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.text);
    j.h.wait(30);
    let codes = on.json["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}

async fn verify(j: &Journey, pending: &str, method: &str, code: &str) -> Res {
    j.h.post_json(
        "/auth/mfa/verify",
        json!({ "method": method, "code": code }),
        Some(pending),
    )
    .await
}

/// A password sign-in of an account with a second factor: its pending cookie.
async fn pending(j: &Journey, email: &str) -> String {
    let res = j.h.sign_in(email, PASSWORD).await;
    assert_eq!(res.json["mfa_required"], true, "{}", res.text);
    j.pending_cookie(&res)
}

async fn a_second_factor_passes_or_fails_and_completes_the_sign_in_by_its_method(h: Harness) {
    let j = Journey::new(h);
    let s1 = j.account("ada", ADA, "s1").await;
    let (secret, codes) = enable_totp(&j, &s1).await;
    assert_eq!(
        j.events(),
        ["totp-confirm: mfa.totp_enabled user=ada session=s1"]
    );

    let waiting = pending(&j, ADA).await;
    assert_eq!(
        j.events(),
        ["sign-in: sign_in.second_factor_required user=ada method=password"]
    );
    let now = secret.code_at(UnixTime(j.h.now())).unwrap();
    let wrong = if now == "000000" { "111111" } else { "000000" };
    assert_eq!(
        verify(&j, &waiting, "totp", wrong).await.error(),
        (401, "invalid_code")
    );
    assert_eq!(
        j.events(),
        ["mfa-verify: mfa.failed user=ada method=totp reason=invalid_code"]
    );
    let done = verify(&j, &waiting, "totp", &now).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    j.name("s2", &done.json["session_id"]);
    assert_eq!(
        j.events(),
        [
            "mfa-verify: mfa.passed user=ada method=totp",
            "mfa-verify: sign_in.succeeded user=ada session=s2 method=totp",
        ]
    );

    let waiting = pending(&j, ADA).await;
    j.events();
    let done = verify(&j, &waiting, "recovery_code", &codes[0]).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    j.name("s3", &done.json["session_id"]);
    assert_eq!(
        j.events(),
        [
            "mfa-verify: mfa.passed user=ada method=recovery_code",
            "mfa-verify: sign_in.succeeded user=ada session=s3 method=recovery_code",
        ]
    );

    // Both changes need the fresh full sign-in s3 is.
    let s3 = j.session_cookie(&done);
    let res =
        j.h.post_json("/auth/mfa/recovery-codes/regenerate", json!({}), Some(&s3))
            .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        j.events(),
        ["recovery-codes-regenerate: mfa.recovery_codes_regenerated user=ada session=s3"]
    );
    let res =
        j.h.post_json("/auth/mfa/totp/disable", json!({}), Some(&s3))
            .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        j.events(),
        ["totp-disable: mfa.totp_disabled user=ada session=s3"]
    );
}

/// Registers a passkey for the signed-in account.
async fn register_passkey(j: &Journey, session: &str, auth: &mut Authenticator) {
    let options =
        j.h.post_json(
            "/auth/passkeys/register/begin",
            json!({ "current_password": PASSWORD }),
            Some(session),
        )
        .await;
    assert_eq!(options.status, StatusCode::OK, "{}", options.text);
    let credential = auth.create(&options.json, Algorithm::Es256);
    let res =
        j.h.post_json(
            "/auth/passkeys/register/finish",
            json!({ "credential": credential }),
            Some(session),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
}

/// A passkey sign-in: discoverable without `pending`, else the pending sign-in's second factor.
async fn passkey_sign_in(j: &Journey, auth: &mut Authenticator, pending: Option<&str>) -> Res {
    let options =
        j.h.post_json("/auth/passkeys/sign-in/begin", json!({}), pending)
            .await;
    assert_eq!(options.status, StatusCode::OK, "{}", options.text);
    j.h.post_json(
        "/auth/passkeys/sign-in/finish",
        json!({ "credential": auth.get(&options.json) }),
        pending,
    )
    .await
}

async fn passkeys_sign_in_alone_or_as_second_factor_and_a_cloned_one_is_reported(h: Harness) {
    let j = Journey::new(h);
    let s1 = j.account("ada", ADA, "s1").await;
    let mut auth = Authenticator::new(TRUSTED_ORIGIN);
    auth.counter_step = 5;
    register_passkey(&j, &s1, &mut auth).await;
    assert_eq!(
        j.events(),
        ["passkey-register-finish: passkey.added user=ada session=s1"]
    );

    let res = passkey_sign_in(&j, &mut auth, None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    j.name("s2", &res.json["session_id"]);
    assert_eq!(
        j.events(),
        ["passkey-sign-in-finish: sign_in.succeeded user=ada session=s2 method=passkey"]
    );

    // A clone of the authenticator as it was before: its counter does not grow.
    auth.credentials[0].counter = 0;
    let res = passkey_sign_in(&j, &mut auth, None).await;
    assert_eq!(res.error(), (401, "passkey_rejected"));
    assert_eq!(
        j.events(),
        [
            "passkey-sign-in-finish: passkey.sign_count_regressed user=ada",
            "passkey-sign-in-finish: sign_in.failed user=ada method=passkey reason=passkey_rejected",
        ]
    );

    // As the second factor of a password sign-in.
    auth.credentials[0].counter = 100;
    let waiting = pending(&j, ADA).await;
    j.events();
    let res = passkey_sign_in(&j, &mut auth, Some(&waiting)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    j.name("s3", &res.json["session_id"]);
    assert_eq!(
        j.events(),
        [
            "passkey-sign-in-finish: mfa.passed user=ada method=passkey",
            "passkey-sign-in-finish: sign_in.succeeded user=ada session=s3 method=passkey",
        ]
    );

    let s3 = j.session_cookie(&res);
    let listed = j.h.get("/auth/mfa", Some(&s3)).await;
    let id = listed.json["passkeys"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res =
        j.h.post_json("/auth/passkeys/delete", json!({ "id": id }), Some(&s3))
            .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        j.events(),
        ["passkey-delete: passkey.removed user=ada session=s3"]
    );
}

async fn sessions_end_by_sign_out_everywhere_or_expiry_and_each_is_told_once(h: Harness) {
    let j = Journey::new(h);
    let s1 = j.account("ada", ADA, "s1").await;
    let s2 = j.signed_in(ADA, "s2").await;
    let s3 = j.signed_in(ADA, "s3").await;
    j.events();

    let out = j.h.post_json("/auth/sign-out", json!({}), Some(&s1)).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(
        j.events(),
        ["sign-out: session.ended user=ada session=s1 reason=sign_out"]
    );
    j.h.post_json("/auth/sign-out", json!({}), Some(&s1)).await;
    assert_eq!(j.events(), Vec::<String>::new(), "ended already");

    let all =
        j.h.post_json("/auth/sign-out/all", json!({}), Some(&s2))
            .await;
    assert_eq!(all.status, StatusCode::NO_CONTENT);
    assert_eq!(
        j.events(),
        ["sign-out-all: session.ended user=ada session=s2 reason=sign_out_all"],
        "one event, for the session that asked"
    );
    assert_eq!(
        j.h.get("/auth/session", Some(&s3)).await.error(),
        (401, "unauthenticated")
    );
    assert_eq!(
        j.events(),
        Vec::<String>::new(),
        "signed out everywhere, not expired"
    );

    // Idle past its deadline: the first request that presents it is told, once.
    let s4 = j.signed_in(ADA, "s4").await;
    j.events();
    j.h.wait(30 * 60);
    for _ in 0..2 {
        assert_eq!(
            j.h.get("/auth/session", Some(&s4)).await.error(),
            (401, "unauthenticated")
        );
    }
    assert_eq!(
        j.events(),
        ["session: session.ended user=ada session=s4 reason=expired"]
    );
    // A session that lived out its absolute lifetime is told too.
    let s5 = j.signed_in(ADA, "s5").await;
    j.events();
    for _ in 0..30 {
        j.h.wait(29 * 60);
        if j.h.get("/auth/session", Some(&s5)).await.status != StatusCode::OK {
            break;
        }
    }
    assert_eq!(
        j.events(),
        ["session: session.ended user=ada session=s5 reason=expired"]
    );
}

async fn passwords_change_and_reset_with_their_sessions(h: Harness) {
    let j = Journey::new(h);
    let s1 = j.account("ada", ADA, "s1").await;
    let change =
        |current: &str| json!({ "current_password": current, "new_password": OTHER_PASSWORD });
    let res =
        j.h.post_json(
            "/auth/password/change",
            change("not the password"),
            Some(&s1),
        )
        .await;
    assert_eq!(res.error(), (401, "invalid_credentials"));
    assert_eq!(
        j.events(),
        ["password-change: sign_in.failed user=ada method=password reason=invalid_credentials"]
    );
    let res =
        j.h.post_json("/auth/password/change", change(PASSWORD), Some(&s1))
            .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    j.name("s2", &res.json["session_id"]);
    assert_eq!(
        j.events(),
        ["password-change: password.changed user=ada session=s2"]
    );

    let asked =
        j.h.post_json("/auth/password/forgot", json!({ "email": ADA }), None)
            .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED);
    assert_eq!(j.events(), Vec::<String>::new());
    let token = mail_token(&j.h.latest_mail(ADA));
    let res =
        j.h.post_json(
            "/auth/password/reset",
            json!({ "token": token, "password": PASSWORD }),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    j.name("s3", &res.json["session_id"]);
    assert_eq!(
        j.events(),
        [
            "password-reset: password.reset user=ada",
            "password-reset: sign_in.succeeded user=ada session=s3 method=password_reset",
        ]
    );
}

async fn an_email_change_and_an_account_deletion_are_told(h: Harness) {
    let j = Journey::new(h);
    let s1 = j.account("ada", ADA, "s1").await;
    let res =
        j.h.post_json(
            "/auth/email/change",
            json!({ "new_email": "ada@new.example.com", "password": PASSWORD }),
            Some(&s1),
        )
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text);
    assert_eq!(j.events(), Vec::<String>::new(), "nothing changed yet");
    let token = mail_token(&j.h.latest_mail("ada@new.example.com"));
    let res =
        j.h.post_json("/auth/email/verify", json!({ "token": token }), None)
            .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(j.events(), ["email-verify: email.changed user=ada"]);

    let res =
        j.h.post_json(
            "/auth/account/delete",
            json!({ "password": PASSWORD }),
            Some(&s1),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        j.events(),
        ["account-delete: account.deleted user=ada session=s1"]
    );
}

/// authfn with the fake provider `idp` configured (and `overrides`), over `h`'s store.
fn federated(h: &Harness, overrides: &[(&str, &str)]) -> (Harness, Arc<FakeIdp>) {
    let idp = Arc::new(FakeIdp::new(h.clock.clone()));
    let mut settings = idp.settings();
    settings.extend(
        overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let pairs: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let h = h.reconfigure(&pairs).with_http_client(idp.clone());
    (h, idp)
}

/// A whole query-mode federated sign-in of `login` by a browser sending `cookies`; the answer
/// that lands it back in the app.
async fn federated_sign_in(j: &Journey, idp: &FakeIdp, login: Login, cookies: &[&str]) -> Res {
    let begun =
        j.h.request(
            "GET",
            "/auth/federation/idp/begin",
            vec![],
            None,
            None,
            vec![],
        )
        .await;
    assert_eq!(begun.status, StatusCode::FOUND, "{}", begun.text);
    let binding = begun.cookie_named(j.h.app.config().cookie.federation_name());
    let query = idp.sign_in(begun.header("location").unwrap(), login);
    let cookie = std::iter::once(binding.as_str())
        .chain(cookies.iter().copied())
        .collect::<Vec<_>>()
        .join("; ");
    let res =
        j.h.request(
            "GET",
            &format!("/auth/federation/idp/callback?{query}"),
            vec![],
            None,
            Some(&cookie),
            vec![],
        )
        .await;
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.text);
    res
}

async fn federated_sign_ins_make_link_and_reach_accounts(h: Harness) {
    let (h, idp) = federated(&h, &[("AUTHFN_FEDERATION_IDP_LINK_BY_EMAIL", "true")]);
    let j = Journey::new(h);
    let res = federated_sign_in(&j, &idp, Login::verified("fed@example.com"), &[]).await;
    j.name_user("fed", "fed@example.com").await;
    j.name_session("s1", &j.session_cookie(&res)).await;
    assert_eq!(
        j.events(),
        [
            "federation-callback: sign_up user=fed method=federated provider=idp",
            "federation-callback: sign_in.succeeded user=fed session=s1 method=federated provider=idp",
        ]
    );
    let res = federated_sign_in(&j, &idp, Login::verified("fed@example.com"), &[]).await;
    j.name_session("s2", &j.session_cookie(&res)).await;
    assert_eq!(
        j.events(),
        [
            "federation-callback: sign_in.succeeded user=fed session=s2 method=federated provider=idp"
        ]
    );

    // A proven password account with the same address is linked.
    j.account("ada", ADA, "s3").await;
    let res = federated_sign_in(&j, &idp, Login::verified(ADA), &[]).await;
    j.name_session("s4", &j.session_cookie(&res)).await;
    assert_eq!(
        j.events(),
        [
            "federation-callback: identity.linked user=ada provider=idp",
            "federation-callback: sign_in.succeeded user=ada session=s4 method=federated provider=idp",
        ]
    );
}

async fn device_codes_tokens_refresh_reuse_and_revocation_are_told_with_their_client(h: Harness) {
    let j = Journey::new(h.issuer(&[]));
    let s1 = j.account("ada", ADA, "s1").await;
    let scope = "openid offline_access";

    let asked = j.h.device_authorize(scope).await;
    assert_eq!(j.events(), Vec::<String>::new());
    let approved =
        j.h.answer(&s1, asked["user_code"].as_str().unwrap(), "approve")
            .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
    assert_eq!(
        j.events(),
        ["device-verify: device_code.approved user=ada session=s1 client=cli"]
    );
    let tokens = j.h.poll(asked["device_code"].as_str().unwrap()).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
    assert_eq!(
        j.events(),
        ["token: tokens.issued user=ada method=device_code client=cli"]
    );
    let first = Tokens(tokens.json);

    let second = j.h.refresh(first.refresh()).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    assert_eq!(
        j.events(),
        ["token: refresh.rotated user=ada method=refresh_token client=cli"]
    );
    assert_eq!(
        j.h.refresh(first.refresh()).await.error(),
        (400, "invalid_grant")
    );
    assert_eq!(
        j.events(),
        ["token: refresh.reuse_detected user=ada reason=refresh_token_reused client=cli"]
    );

    let asked = j.h.device_authorize(scope).await;
    let denied =
        j.h.answer(&s1, asked["user_code"].as_str().unwrap(), "deny")
            .await;
    assert_eq!(denied.status, StatusCode::OK, "{}", denied.text);
    assert_eq!(
        j.events(),
        ["device-verify: device_code.denied user=ada session=s1 client=cli"]
    );

    let asked = j.h.device_authorize(scope).await;
    j.h.answer(&s1, asked["user_code"].as_str().unwrap(), "approve")
        .await;
    let tokens = Tokens(j.h.poll(asked["device_code"].as_str().unwrap()).await.json);
    j.events();
    let revoked =
        j.h.form(
            "/oidc/revoke",
            &[("token", tokens.refresh()), ("client_id", "cli")],
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    assert_eq!(j.events(), ["revoke: token.revoked user=ada client=cli"]);
}

async fn a_failed_client_authentication_names_only_a_known_client(h: Harness) {
    let j = Journey::new(h.issuer(&[]));
    let res = j.h.introspect_as(CLIENT_IP, "not the secret", "x").await;
    assert_eq!(res.error(), (401, "invalid_client"));
    assert_eq!(
        j.events(),
        ["introspect: client_auth.failed reason=invalid_secret client=resource-server"]
    );
    let typed = "a-secret-pasted-as-the-client-id";
    let res =
        j.h.form(
            "/oidc/introspect",
            &[("token", "x"), ("client_id", typed), ("client_secret", "s")],
        )
        .await;
    assert_eq!(res.error(), (401, "invalid_client"));
    assert_eq!(
        j.events(),
        ["introspect: client_auth.failed reason=unknown_client"],
        "what the caller typed is not logged"
    );
    // The fifth failure locks the client out from this network; the next is refused unchecked.
    for _ in 0..4 {
        j.h.introspect_as(CLIENT_IP, "not the secret", "x").await;
    }
    j.events();
    let res = j.h.introspect_as(CLIENT_IP, RS_SECRET, "x").await;
    assert_eq!(res.error(), (401, "invalid_client"), "{}", res.text);
    assert_eq!(
        j.events(),
        ["introspect: client_auth.failed reason=client_locked client=resource-server"]
    );
}

/// Every secret a journey saw: the values of the answers' secret fields, every cookie value
/// set, what the mails carried, and what the user typed.
#[derive(Default)]
struct Secrets(Vec<String>);

impl Secrets {
    /// Keeps the secrets of `res`, and hands it on.
    fn seen(&mut self, res: Res) -> Res {
        self.answer(&res);
        res
    }

    fn add(&mut self, value: &str) {
        if value.len() >= 6 {
            self.0.push(value.to_owned());
        }
    }

    /// The secrets in an answer: cookie values and the body's secret fields, at any depth.
    fn answer(&mut self, res: &Res) {
        for (name, value) in res.all_headers() {
            if name == "set-cookie" {
                let pair = value.split(';').next().unwrap();
                self.add(pair.split_once('=').unwrap().1);
            }
        }
        self.json(&res.json);
    }

    fn json(&mut self, value: &Value) {
        const SECRET_FIELDS: &[&str] = &[
            "session_token",
            "device_token",
            "mfa_token",
            "access_token",
            "refresh_token",
            "id_token",
            "device_code",
            "user_code",
            "secret",
            "otpauth_uri",
            "recovery_codes",
            "challenge",
        ];
        if let Value::Object(fields) = value {
            for (key, field) in fields {
                if SECRET_FIELDS.contains(&key.as_str()) {
                    match field {
                        Value::String(s) => self.add(s),
                        Value::Array(items) => items
                            .iter()
                            .filter_map(Value::as_str)
                            .for_each(|s| self.add(s)),
                        _ => {}
                    }
                }
                self.json(field);
            }
        }
    }

    /// The link tokens and codes of every mail the outbox holds.
    fn mails(&mut self, h: &Harness) {
        for mail in h.outbox.messages() {
            if let Some((_, rest)) = mail.text.split_once("?token=") {
                self.add(rest.split_whitespace().next().unwrap());
            }
            if mail.text.contains("code: ") {
                self.add(&mail_code(&mail));
            }
        }
    }
}

async fn a_whole_journey_logs_no_secret_and_the_activity_holds_what_the_user_may_see(h: Harness) {
    let j = Journey::new(h.issuer(&[]));
    let mut secrets = Secrets::default();
    for typed in [PASSWORD, OTHER_PASSWORD, ADA, "ada@new.example.com"] {
        secrets.add(typed);
    }

    // Sign up, a wrong password, a sign-in.
    let asked = secrets.seen(j.h.sign_up_request(ADA, PASSWORD).await);
    assert_eq!(asked.status, StatusCode::ACCEPTED);
    let code = mail_code(&j.h.latest_mail(ADA));
    let res = secrets.seen(
        j.h.post_json(
            "/auth/verify-email",
            json!({ "email": ADA, "code": code }),
            None,
        )
        .await,
    );
    let s1 = j.session_cookie(&res);
    j.h.wait(1);
    secrets.seen(j.h.sign_in(ADA, OTHER_PASSWORD).await);
    j.h.wait(1);
    let signed_in = secrets.seen(j.h.sign_in(ADA, PASSWORD).await);
    let device = j.device_cookie(&signed_in);
    j.h.wait(1);

    // TOTP on, a second-factor sign-in, a recovery code.
    let begun = secrets.seen(
        j.h.post_json(
            "/auth/mfa/totp/enroll",
            json!({ "current_password": PASSWORD }),
            Some(&s1),
        )
        .await,
    );
    let secret = TotpSecret::from_base32(begun.json["secret"].as_str().unwrap()).unwrap();
    let first_code = secret.code_at(UnixTime(j.h.now())).unwrap();
    secrets.add(&first_code);
    let on = secrets.seen(
        j.h.post_json(
            "/auth/mfa/totp/confirm",
            json!({ "code": first_code }),
            Some(&s1),
        )
        .await,
    );
    let recovery = on.json["recovery_codes"][0].as_str().unwrap().to_owned();
    j.h.wait(30);
    let asked = secrets.seen(j.h.sign_in_with_cookies(ADA, PASSWORD, &device).await);
    let waiting = j.pending_cookie(&asked);
    let code = secret.code_at(UnixTime(j.h.now())).unwrap();
    secrets.add(&code);
    let res = secrets.seen(verify(&j, &format!("{waiting}; {device}"), "totp", &code).await);
    let s2 = j.session_cookie(&res);
    j.h.wait(1);
    let asked = secrets.seen(j.h.sign_in(ADA, PASSWORD).await);
    secrets.seen(verify(&j, &j.pending_cookie(&asked), "recovery_code", &recovery).await);
    j.h.wait(1);

    // A device signed in with the device flow, refreshed, and a stolen token replayed.
    let asked = j.h.device_authorize("openid email offline_access").await;
    secrets.json(&asked);
    secrets.seen(
        j.h.answer(&s2, asked["user_code"].as_str().unwrap(), "approve")
            .await,
    );
    j.h.wait(1);
    let tokens = secrets.seen(j.h.poll(asked["device_code"].as_str().unwrap()).await);
    let first = Tokens(tokens.json.clone());
    j.h.wait(1);
    secrets.seen(j.h.refresh(first.refresh()).await);
    j.h.wait(1);
    secrets.seen(j.h.refresh(first.refresh()).await);
    j.h.wait(1);

    // A new address, a new password, sign out everywhere.
    secrets.seen(
        j.h.post_json(
            "/auth/email/change",
            json!({ "new_email": "ada@new.example.com" }),
            Some(&s2),
        )
        .await,
    );
    let code = mail_code(&j.h.latest_mail("ada@new.example.com"));
    secrets.seen(
        j.h.post_json("/auth/email/verify", json!({ "code": code }), Some(&s2))
            .await,
    );
    j.h.wait(1);
    let changed = secrets.seen(
        j.h.post_json(
            "/auth/password/change",
            json!({ "current_password": PASSWORD, "new_password": OTHER_PASSWORD }),
            Some(&s2),
        )
        .await,
    );
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    let s3 = j.session_cookie(&changed);
    j.h.wait(1);
    secrets.seen(
        j.h.post_json("/auth/sign-out/all", json!({}), Some(&s3))
            .await,
    );
    j.h.wait(30);

    let all = j.kept.all.lock().unwrap().clone();
    let kinds: Vec<&str> = all.iter().map(|e| e.event.name()).collect();
    for expected in [
        "sign_up",
        "sign_in.failed",
        "mfa.totp_enabled",
        "mfa.passed",
        "device_code.approved",
        "refresh.reuse_detected",
        "email.changed",
        "password.changed",
        "session.ended",
    ] {
        assert!(kinds.contains(&expected), "{expected} in {kinds:?}");
    }

    // The user's activity: every event about them that they may see, newest first.
    let email = authfn::email::Email::parse("ada@new.example.com").unwrap();
    let user = j.h.store.user_by_email(&email).await.unwrap().unwrap();
    let now = authfn::Clock::now(&j.h.clock);
    let activity =
        j.h.store
            .activity_of(&user.id, None, 100, now)
            .await
            .unwrap();
    let mut expected: Vec<&SecurityEvent> = all
        .iter()
        .filter(|e| e.user_id.as_ref() == Some(&user.id) && e.event.shows_in_activity())
        .collect();
    expected.sort_by(|a, b| (b.time, &b.id).cmp(&(a.time, &a.id)));
    assert_eq!(
        activity.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        expected.iter().map(|e| e.id.as_str()).collect::<Vec<_>>()
    );
    assert!(expected.len() > 10, "{kinds:?}");
    assert!(
        !activity.iter().any(|a| a.json.contains("refresh.rotated")),
        "routine machinery is for operators"
    );

    // Then the account goes, after a full sign-in: its last event is logged too.
    let asked = secrets.seen(j.h.sign_in(email.as_str(), OTHER_PASSWORD).await);
    let code = secret.code_at(UnixTime(j.h.now())).unwrap();
    secrets.add(&code);
    let res = secrets.seen(verify(&j, &j.pending_cookie(&asked), "totp", &code).await);
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let deleted = secrets.seen(
        j.h.post_json(
            "/auth/account/delete",
            json!({}),
            Some(&j.session_cookie(&res)),
        )
        .await,
    );
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    secrets.mails(&j.h);
    assert!(secrets.0.len() > 20, "the journey saw its secrets");
    let all = j.kept.all.lock().unwrap().clone();
    assert_eq!(all.last().unwrap().event.name(), "account.deleted");

    let mut lines: Vec<String> = all.iter().map(SecurityEvent::log_line).collect();
    lines.extend(activity.iter().map(|a| a.json.clone()));
    for line in &lines {
        for secret in &secrets.0 {
            assert!(!holds(line, secret), "{secret:?} in {line}");
        }
        // No address at all.
        assert!(!line.contains('@'), "{line}");
    }
}

/// Whether `line` holds `secret`; an all-digit secret (a code) only as a number of its own,
/// not as part of a longer one (a time).
fn holds(line: &str, secret: &str) -> bool {
    if !secret.bytes().all(|b| b.is_ascii_digit()) {
        return line.contains(secret);
    }
    line.match_indices(secret).any(|(at, _)| {
        let before = line[..at].bytes().next_back();
        let after = line[at + secret.len()..].bytes().next();
        !before.is_some_and(|b| b.is_ascii_digit()) && !after.is_some_and(|b| b.is_ascii_digit())
    })
}

/// What the new-device notice tests count: the notices mailed to `email`.
fn notices(h: &Harness, email: &str) -> Vec<authfn::mail::SentMail> {
    h.mails_to(email)
        .into_iter()
        .filter(|m| m.subject.starts_with("New sign-in"))
        .collect()
}

/// A password sign-in from a browser sending `cookies`, with a Chrome on macOS user agent.
async fn sign_in_from_chrome(h: &Harness, cookies: Option<&str>) -> Res {
    h.request(
        "POST",
        "/auth/sign-in",
        creds(ADA, PASSWORD),
        Some(JSON),
        cookies,
        vec![("origin", TRUSTED_ORIGIN), ("user-agent", CHROME_ON_MAC)],
    )
    .await
}

async fn a_sign_in_from_a_new_device_mails_the_account_and_a_known_device_does_not(h: Harness) {
    let on = h.reconfigure(&[("AUTHFN_NEW_DEVICE_MAIL", "true")]);
    let signed_up = on.sign_up(ADA, PASSWORD).await;
    assert_eq!(signed_up.status, StatusCode::OK, "{}", signed_up.text);
    assert_eq!(notices(&on, ADA).len(), 0, "a new account is no new device");

    let res = sign_in_from_chrome(&on, None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let sent = notices(&on, ADA);
    assert_eq!(sent.len(), 1);
    let text = &sent[0].text;
    for expected in [
        "Device: Chrome on macOS",
        "Network: 203.0.113.0/24",
        "Time: 2027-01-15 08:00 UTC",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    assert!(
        !text.contains("http") && !sent[0].html.contains("href"),
        "no link: {text}"
    );

    // The browser that got the device cookie is known from now on; the one from sign-up too.
    let device = res.cookie_named(on.app.config().cookie.device_name());
    let again = sign_in_from_chrome(&on, Some(&device)).await;
    assert_eq!(again.status, StatusCode::OK);
    let first = signed_up.cookie_named(on.app.config().cookie.device_name());
    assert_eq!(
        on.sign_in_with_cookies(ADA, PASSWORD, &first).await.status,
        StatusCode::OK
    );
    // A client without a cookie jar presents its device token in the body.
    let token_client = on
        .request(
            "POST",
            "/auth/sign-in",
            json!({ "email": ADA, "password": PASSWORD, "session_delivery": "token" })
                .to_string()
                .into_bytes(),
            Some(JSON),
            None,
            vec![],
        )
        .await;
    assert_eq!(token_client.status, StatusCode::OK, "{}", token_client.text);
    assert_eq!(notices(&on, ADA).len(), 2, "a new client is a new device");
    let known = on
        .request(
            "POST",
            "/auth/sign-in",
            json!({
                "email": ADA, "password": PASSWORD, "session_delivery": "token",
                "device_token": token_client.json["device_token"],
            })
            .to_string()
            .into_bytes(),
            Some(JSON),
            None,
            vec![],
        )
        .await;
    assert_eq!(known.status, StatusCode::OK);
    assert_eq!(notices(&on, ADA).len(), 2);

    // Off (the default): no notice.
    let off = on.reconfigure(&[("AUTHFN_NEW_DEVICE_MAIL", "false")]);
    assert_eq!(sign_in_from_chrome(&off, None).await.status, StatusCode::OK);
    assert_eq!(notices(&off, ADA).len(), 2);

    // A mail outage does not stop the sign-in.
    let down = on
        .reconfigure(&[])
        .with_mailer(Arc::new(FaultMailProviderDown));
    let res = sign_in_from_chrome(&down, None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let session = down.get("/auth/session", Some(&res.cookie())).await;
    assert_eq!(session.status, StatusCode::OK);
}

/// A named fault: the mail provider refuses every message.
struct FaultMailProviderDown;

#[async_trait::async_trait]
impl authfn::mail::Mailer for FaultMailProviderDown {
    async fn send(&self, _: &authfn::mail::Mail) -> Result<(), authfn::mail::MailError> {
        Err(authfn::mail::MailError::Unavailable(
            "FAULT: the mail provider is down".into(),
        ))
    }
}

async fn every_way_of_signing_in_an_existing_account_sends_the_notice_once(h: Harness) {
    let j = Journey::new(h.reconfigure(&[
        ("AUTHFN_NEW_DEVICE_MAIL", "true"),
        ("AUTHFN_EMAIL_CODE_SIGN_IN", "true"),
    ]));
    let s1 = j.account("ada", ADA, "s1").await;
    let count = || notices(&j.h, ADA).len();

    // A mailed code, a password reset: the new session is the notice's.
    j.h.post_json("/auth/email-code/request", json!({ "email": ADA }), None)
        .await;
    let code = mail_code(&j.h.latest_mail(ADA));
    let res =
        j.h.post_json(
            "/auth/email-code/sign-in",
            json!({ "email": ADA, "code": code }),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(count(), 1);
    j.h.post_json("/auth/password/forgot", json!({ "email": ADA }), None)
        .await;
    let token = mail_token(&j.h.latest_mail(ADA));
    let res =
        j.h.post_json(
            "/auth/password/reset",
            json!({ "token": token, "password": PASSWORD }),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(count(), 2);

    // With a second factor the notice waits for the session: none for the pending sign-in.
    let s1 = j.signed_in_fresh(&s1).await;
    let (secret, _) = enable_totp(&j, &s1).await;
    let before = count();
    let waiting = pending(&j, ADA).await;
    assert_eq!(count(), before);
    let code = secret.code_at(UnixTime(j.h.now())).unwrap();
    let done = verify(&j, &waiting, "totp", &code).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert_eq!(count(), before + 1);

    // A passkey alone.
    let fresh = j.session_cookie(&done);
    let mut auth = Authenticator::new(TRUSTED_ORIGIN);
    register_passkey(&j, &fresh, &mut auth).await;
    let before = count();
    let res = passkey_sign_in(&j, &mut auth, None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(count(), before + 1);
}

async fn a_federated_sign_in_hands_over_a_device_cookie_and_notices_a_new_device(h: Harness) {
    let (h, idp) = federated(&h, &[("AUTHFN_NEW_DEVICE_MAIL", "true")]);
    let j = Journey::new(h);
    let email = "fed@example.com";
    let first = federated_sign_in(&j, &idp, Login::verified(email), &[]).await;
    assert_eq!(
        notices(&j.h, email).len(),
        0,
        "the sign-in that made the account"
    );
    let device = j.device_cookie(&first);
    federated_sign_in(&j, &idp, Login::verified(email), &[&device]).await;
    assert_eq!(notices(&j.h, email).len(), 0, "a known browser");
    federated_sign_in(&j, &idp, Login::verified(email), &[]).await;
    assert_eq!(notices(&j.h, email).len(), 1, "a new one");

    // form_post: the cross-site callback carries no cookie; the finishing step decides.
    j.h.wait(60);
    let posting =
        j.h.reconfigure(&[("AUTHFN_FEDERATION_IDP_RESPONSE_MODE", "form_post")])
            .with_http_client(idp.clone());
    let cookies = posting.app.config().cookie.clone();
    let form_post = |device: Option<String>| {
        let (posting, idp, cookies) = (&posting, &idp, &cookies);
        async move {
            let begun = posting
                .request(
                    "GET",
                    "/auth/federation/idp/begin",
                    vec![],
                    None,
                    None,
                    vec![],
                )
                .await;
            let form = idp.sign_in(begun.header("location").unwrap(), Login::verified(email));
            let posted = posting
                .request(
                    "POST",
                    "/auth/federation/idp/callback",
                    form.into_bytes(),
                    Some("application/x-www-form-urlencoded"),
                    Some(&begun.cookie_named(cookies.federation_name())),
                    vec![],
                )
                .await;
            assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.text);
            assert!(
                posted.set_cookie(cookies.device_name()).is_none(),
                "the device cookie is the finishing step's to read and set"
            );
            let finish = url::Url::parse(posted.header("location").unwrap()).unwrap();
            let path = format!("{}?{}", finish.path(), finish.query().unwrap());
            let handoff = posted.cookie_named(cookies.federation_handoff_name());
            let sent = match device {
                Some(d) => format!("{handoff}; {d}"),
                None => handoff,
            };
            let done = posting
                .request("GET", &path, vec![], None, Some(&sent), vec![])
                .await;
            assert_eq!(done.status, StatusCode::FOUND, "{}", done.text);
            done
        }
    };
    let done = form_post(Some(device.clone())).await;
    assert_eq!(notices(&j.h, email).len(), 1, "a known browser");
    done.cookie_named(cookies.device_name());
    form_post(None).await;
    assert_eq!(notices(&j.h, email).len(), 2, "a new one");
}

#[tokio::test]
async fn the_functions_that_sign_in_send_mail_only_with_the_notice_on() {
    let off = Harness::memory(&[]).await;
    let on = off.reconfigure(&[("AUTHFN_NEW_DEVICE_MAIL", "true"), ("AUTHFN_APP_URL", "")]);
    for endpoint in authfn::Endpoint::ALL {
        if endpoint.sends_mail() {
            continue;
        }
        assert!(!off.app.sends_mail(endpoint), "{endpoint:?}");
        assert_eq!(
            on.app.sends_mail(endpoint),
            endpoint.signs_in(),
            "{endpoint:?}"
        );
        // The notice links nowhere: no app URL needed.
        assert!(on.app.check_can_serve(endpoint).is_ok(), "{endpoint:?}");
    }
    assert!(authfn::Endpoint::SignIn.signs_in() && authfn::Endpoint::FederationCallback.signs_in());
    assert!(
        !authfn::Endpoint::VerifyEmail.signs_in(),
        "it makes accounts, not sign-ins"
    );
}
