//! Whether the time of a "mail this address" answer says if the address has an account:
//! `POST /auth/sign-up`, `POST /auth/password/forgot` and `POST /auth/email-code/request` for
//! an address with an account and for one without, at the default (OWASP) argon2id cost, over the in-memory store and the
//! in-memory outbox. The calls are interleaved round by round (a noisy machine then slows
//! them all alike), and the figure is the ratio of medians known ÷ unknown, for each endpoint,
//! measured in the same run; the target is 0.9–1.1.
//!
//! Run with `cargo bench -p authfn --bench accounts` (`ROUNDS=n` to change the 60 rounds).
//! `bench/account_timing.sh` runs it twice: over the memory store and outbox, and (built with
//! `--features dynamodb`, `AUTHFN_TEST_DYNAMODB_ENDPOINT` set) over DynamoDB's and SES's APIs
//! as a local moto server answers them, where every path makes real round trips, as deployed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use authfn::clock::ManualClock;
use authfn::mail::{Mailer, Outbox};
use authfn::password::Argon2Cost;
use authfn::request::{ClientIp, HttpRequest};
use authfn::store::MemoryStore;
use authfn::{App, Config, Endpoint, UnixTime};
use bytes::Bytes;
use http::{StatusCode, header};
use tokio::runtime::Runtime;

const ORIGIN: &str = "https://app.example.com";
const KNOWN: &str = "known@example.com";
const UNKNOWN: &str = "unknown@example.com";
const PASSWORD: &str = "correct horse battery staple";

/// Production defaults but for the per-IP limit, which would answer 429 within a minute and
/// leave the benchmark timing the refusal. The per-address mail budget is left as it is: the
/// clock moves past its window between rounds.
fn app(clock: &ManualClock, store: Arc<dyn authfn::store::Store>, mailer: Arc<dyn Mailer>) -> App {
    let key = authfn::crypto::b64url(&[7u8; 32]);
    let config = Config::from_lookup(|name| match name {
        "AUTHFN_SESSION_KEYS" => Some(key.clone()),
        "AUTHFN_TRUSTED_ORIGINS" => Some(ORIGIN.to_owned()),
        "AUTHFN_APP_URL" => Some(format!("{ORIGIN}/")),
        "AUTHFN_RATE_LIMIT_PER_MINUTE" => Some(u64::MAX.to_string()),
        "AUTHFN_EMAIL_CODE_SIGN_IN" => Some("true".to_owned()),
        _ => None,
    })
    .expect("bench configuration is valid");
    assert_eq!(
        config.argon2,
        Argon2Cost::default(),
        "the figures are for the default cost"
    );
    let clock = Arc::new(clock.clone());
    App::new(config, store)
        .expect("app builds")
        .with_clock(clock.clone())
        .with_mailer(mailer)
}

/// The store and mailer to time over, and what they are.
fn backends(
    rt: &Runtime,
    clock: &ManualClock,
) -> (Arc<dyn authfn::store::Store>, Arc<dyn Mailer>, &'static str) {
    #[cfg(feature = "dynamodb")]
    if let Ok(endpoint) = std::env::var("AUTHFN_TEST_DYNAMODB_ENDPOINT") {
        use authfn::ses::{MailFrom, SesMailer};
        use authfn::store::dynamodb::DynamoStore;
        let from = std::env::var("AUTHFN_TEST_MAIL_FROM")
            .expect("AUTHFN_TEST_MAIL_FROM names a verified sender");
        let from = MailFrom::parse(&from).expect("a From address");
        let table = format!(
            "bench-{}",
            authfn::token::UserId::generate()
                .expect("randomness")
                .as_str()
                .replace(['-', '_'], "x")
        );
        let (store, mailer) = rt.block_on(async {
            let store = DynamoStore::connect_in_lambda(table, Some(endpoint.clone())).await;
            store
                .create_table_if_missing()
                .await
                .expect("create the bench table");
            (
                store,
                SesMailer::connect_in_lambda(from, Some(endpoint)).await,
            )
        });
        return (
            Arc::new(store),
            Arc::new(mailer),
            "DynamoDB and SES APIs (local moto server)",
        );
    }
    let outbox = Arc::new(Outbox::new(Arc::new(clock.clone())));
    (
        Arc::new(MemoryStore::new()),
        outbox,
        "memory store and outbox",
    )
}

fn request(endpoint: Endpoint, body: serde_json::Value) -> HttpRequest {
    http::Request::builder()
        .method(endpoint.method())
        .uri(format!("https://auth.example.com{}", endpoint.path()))
        .header(header::ORIGIN, ORIGIN)
        .header(header::CONTENT_TYPE, "application/json")
        .extension(ClientIp("203.0.113.7".into()))
        .body(Bytes::from(body.to_string()))
        .expect("valid request")
}

/// Times one call, checking it answered `expected`.
fn timed(
    rt: &Runtime,
    app: &App,
    endpoint: Endpoint,
    body: serde_json::Value,
    expected: StatusCode,
) -> Duration {
    let req = request(endpoint, body);
    let start = Instant::now();
    let res = rt.block_on(app.handle(endpoint, req));
    let took = start.elapsed();
    assert_eq!(res.status(), expected, "{endpoint:?}: {}", res.body());
    took
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

fn main() {
    // One thread: a second would only add scheduling noise. I/O and timers for the AWS clients.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(60);
    let clock = ManualClock::at(UnixTime(1_800_000_000));
    let (store, mailer, over) = backends(&rt, &clock);
    let app = app(&clock, store.clone(), mailer);
    let off = {
        // The known account, made at once.
        let key = authfn::crypto::b64url(&[7u8; 32]);
        let config = Config::from_lookup(|name| match name {
            "AUTHFN_SESSION_KEYS" => Some(key.clone()),
            "AUTHFN_TRUSTED_ORIGINS" => Some(ORIGIN.to_owned()),
            "AUTHFN_EMAIL_VERIFICATION" => Some("off".to_owned()),
            _ => None,
        })
        .expect("bench configuration is valid");
        App::new(config, store)
            .expect("app builds")
            .with_clock(Arc::new(clock.clone()))
    };
    let sign_up = |email: &str| serde_json::json!({ "email": email, "password": PASSWORD });
    timed(
        &rt,
        &off,
        Endpoint::SignUp,
        sign_up(KNOWN),
        StatusCode::CREATED,
    );

    let (mut up_known, mut up_unknown, mut forgot_known, mut forgot_unknown) =
        (vec![], vec![], vec![], vec![]);
    let (mut code_known, mut code_unknown) = (vec![], vec![]);
    for round in 0..rounds {
        // Alternate which goes first, so neither always runs on a warmer cache.
        let pairs = if round % 2 == 0 {
            [(KNOWN, true), (UNKNOWN, false)]
        } else {
            [(UNKNOWN, false), (KNOWN, true)]
        };
        for (email, known) in pairs {
            let t = timed(
                &rt,
                &app,
                Endpoint::SignUp,
                sign_up(email),
                StatusCode::ACCEPTED,
            );
            if known {
                up_known.push(t)
            } else {
                up_unknown.push(t)
            }
        }
        for (email, known) in pairs {
            let t = timed(
                &rt,
                &app,
                Endpoint::ForgotPassword,
                serde_json::json!({ "email": email }),
                StatusCode::ACCEPTED,
            );
            if known {
                forgot_known.push(t)
            } else {
                forgot_unknown.push(t)
            }
        }
        for (email, known) in pairs {
            let t = timed(
                &rt,
                &app,
                Endpoint::EmailCodeRequest,
                serde_json::json!({ "email": email }),
                StatusCode::ACCEPTED,
            );
            if known {
                code_known.push(t)
            } else {
                code_unknown.push(t)
            }
        }
        // Past the per-address mail window, so the next round is served, not refused.
        clock.advance(Duration::from_secs(3601));
    }
    println!("{rounds} interleaved rounds, default argon2id cost, {over}");
    let endpoints = [
        ("sign-up", up_known, up_unknown),
        ("password/forgot", forgot_known, forgot_unknown),
        ("email-code/request", code_known, code_unknown),
    ];
    for (name, known, unknown) in endpoints {
        let (k, u) = (median(known), median(unknown));
        println!(
            "{name:>18}: known {:>9.3} ms, unknown {:>9.3} ms, known ÷ unknown {:.3}",
            k.as_secs_f64() * 1e3,
            u.as_secs_f64() * 1e3,
            k.as_secs_f64() / u.as_secs_f64()
        );
    }
}
