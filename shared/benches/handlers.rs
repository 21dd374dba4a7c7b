//! Handler benchmarks over the in-memory store.
//!
//! - `session/get`: `GET /auth/session` with a valid signed cookie, the request every page
//!   load of a single-page app makes.
//! - `sign_in/*`: `POST /auth/sign-in` at the default (OWASP) argon2id cost, for a known user
//!   and for an unknown email, beside one bare argon2id verify at the same cost. Sign-in should
//!   cost one verify and nothing more that shows: the ratio sign-in ÷ verify is the figure
//!   that matters, so after criterion the same three are also timed interleaved, call by call,
//!   which keeps the ratio honest on a noisy machine.
//!
//! Run with `cargo bench -p authfn --bench handlers`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use authfn::password::Argon2Cost;
use authfn::request::{ClientIp, HttpRequest};
use authfn::store::MemoryStore;
use authfn::{App, Config, Endpoint};
use bytes::Bytes;
use criterion::{BatchSize, Criterion, SamplingMode};
use http::{Method, StatusCode, header};
use tokio::runtime::Runtime;

const ORIGIN: &str = "https://app.example.com";
const EMAIL: &str = "bench@example.com";
const UNKNOWN_EMAIL: &str = "nobody@example.com";
const PASSWORD: &str = "correct horse battery staple";
/// Rounds of the interleaved sign-in ÷ verify comparison: ~3 argon2 runs each.
const PAIRED_ROUNDS: usize = 40;

/// Production defaults except the limits, which would otherwise answer 429 / 423 within a
/// few iterations and leave the benchmark timing the refusal instead of the work.
fn app() -> App {
    let key = authfn::crypto::b64url(&[7u8; 32]);
    let unlimited = u64::MAX.to_string();
    let config = Config::from_lookup(|name| match name {
        "AUTHFN_SESSION_KEYS" => Some(key.clone()),
        "AUTHFN_TRUSTED_ORIGINS" => Some(ORIGIN.to_owned()),
        "AUTHFN_RATE_LIMIT_PER_MINUTE" | "AUTHFN_LOCKOUT_MAX_FAILURES" => Some(unlimited.clone()),
        // The account to sign in to is made at once: these figures are about sign-in and
        // sessions (`benches/accounts.rs` times the mailed sign-up).
        "AUTHFN_EMAIL_VERIFICATION" => Some("off".to_owned()),
        _ => None,
    })
    .expect("bench configuration is valid");
    assert_eq!(
        config.argon2,
        Argon2Cost::default(),
        "the sign-in figures are for the default cost"
    );
    App::new(config, Arc::new(MemoryStore::new())).expect("app builds")
}

/// A request as a browser on the trusted SPA origin sends it.
fn request(endpoint: Endpoint, cookie: Option<&str>, body: &str) -> HttpRequest {
    let mut builder = http::Request::builder()
        .method(endpoint.method())
        .uri(format!("https://auth.example.com{}", endpoint.path()))
        .header(header::ORIGIN, ORIGIN)
        .extension(ClientIp("203.0.113.7".into()));
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    if endpoint.method() == Method::POST {
        builder = builder.header(header::CONTENT_TYPE, "application/json");
    }
    builder
        .body(Bytes::from(body.to_owned()))
        .expect("valid request")
}

fn credentials(email: &str) -> String {
    serde_json::json!({ "email": email, "password": PASSWORD }).to_string()
}

/// Signs `EMAIL` up and returns the session cookie as a browser would send it back.
fn sign_up(rt: &Runtime, app: &App) -> String {
    let res = rt.block_on(app.handle(
        Endpoint::SignUp,
        request(Endpoint::SignUp, None, &credentials(EMAIL)),
    ));
    assert_eq!(res.status(), StatusCode::CREATED, "sign-up: {}", res.body());
    let set_cookie = res
        .headers()
        .get(header::SET_COOKIE)
        .expect("sign-up sets the session cookie");
    let pair = set_cookie
        .to_str()
        .expect("ASCII cookie")
        .split(';')
        .next()
        .expect("split yields one item");
    pair.to_owned()
}

/// What each measured call does, checked once before it is timed.
struct Calls {
    rt: Runtime,
    app: App,
    cookie: String,
    argon2: Argon2<'static>,
    /// A PHC hash of `PASSWORD` at the default cost, made with the `argon2` crate alone.
    phc: String,
}

impl Calls {
    fn new() -> Self {
        // One thread: the handlers never wait on I/O here, and a second thread would only add
        // scheduling noise on a 2-core machine.
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let app = app();
        let cookie = sign_up(&rt, &app);
        let cost = Argon2Cost::default();
        let params =
            Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None).expect("params");
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::encode_b64(&[42u8; 16]).expect("salt");
        let phc = argon2
            .hash_password(PASSWORD.as_bytes(), &salt)
            .expect("hash")
            .to_string();
        let calls = Calls {
            rt,
            app,
            cookie,
            argon2,
            phc,
        };

        assert_eq!(calls.session(), StatusCode::OK);
        assert_eq!(calls.sign_in(EMAIL), StatusCode::OK);
        assert_eq!(calls.sign_in(UNKNOWN_EMAIL), StatusCode::UNAUTHORIZED);
        assert!(calls.verify());
        calls
    }

    fn session_request(&self) -> HttpRequest {
        request(Endpoint::Session, Some(&self.cookie), "")
    }

    fn session(&self) -> StatusCode {
        self.rt
            .block_on(self.app.handle(Endpoint::Session, self.session_request()))
            .status()
    }

    fn sign_in(&self, email: &str) -> StatusCode {
        let req = request(Endpoint::SignIn, None, &credentials(email));
        self.rt
            .block_on(self.app.handle(Endpoint::SignIn, req))
            .status()
    }

    fn verify(&self) -> bool {
        let parsed = PasswordHash::new(&self.phc).expect("PHC string");
        self.argon2
            .verify_password(black_box(PASSWORD.as_bytes()), &parsed)
            .is_ok()
    }
}

fn bench_session(c: &mut Criterion, calls: &Calls) {
    let mut group = c.benchmark_group("session");
    group.bench_function("get", |b| {
        b.to_async(&calls.rt).iter_batched(
            || calls.session_request(),
            |req| calls.app.handle(Endpoint::Session, req),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn bench_sign_in(c: &mut Criterion, calls: &Calls) {
    let mut group = c.benchmark_group("sign_in");
    // Each call is tens of milliseconds: flat sampling keeps the run to seconds per benchmark.
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(6));
    group.bench_function("argon2id_verify", |b| b.iter(|| calls.verify()));
    group.bench_function("known_user", |b| b.iter(|| calls.sign_in(EMAIL)));
    group.bench_function("unknown_email", |b| b.iter(|| calls.sign_in(UNKNOWN_EMAIL)));
    group.finish();
}

/// Times verify, known and unknown sign-in in turn, rotating which goes first, so that drift
/// in the machine's speed hits all three alike; prints medians and the two ratios.
fn paired_ratios(calls: &Calls, rounds: usize) {
    let time = |f: &dyn Fn()| {
        let start = Instant::now();
        f();
        start.elapsed()
    };
    let runs: [(&str, &dyn Fn()); 3] = [
        ("argon2id verify", &|| assert!(calls.verify())),
        ("sign-in, known user", &|| {
            assert_eq!(calls.sign_in(EMAIL), StatusCode::OK)
        }),
        ("sign-in, unknown email", &|| {
            assert_eq!(calls.sign_in(UNKNOWN_EMAIL), StatusCode::UNAUTHORIZED)
        }),
    ];
    let mut samples: [Vec<Duration>; 3] = Default::default();
    for round in 0..rounds {
        for k in 0..runs.len() {
            let i = (round + k) % runs.len();
            samples[i].push(time(runs[i].1));
        }
    }
    let medians = samples.map(|mut s| {
        s.sort();
        s[s.len() / 2]
    });
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("\nsign-in vs argon2id verify, interleaved, {rounds} rounds, medians:");
    println!("| call | median ms | ÷ verify |");
    println!("|---|---:|---:|");
    for ((name, _), median) in runs.iter().zip(medians) {
        println!(
            "| {name} | {:.2} | {:.3} |",
            ms(median),
            ms(median) / ms(medians[0])
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let calls = Calls::new();
    let mut c = Criterion::default().configure_from_args();
    bench_session(&mut c, &calls);
    bench_sign_in(&mut c, &calls);
    c.final_summary();
    // Criterion's own modes: `--list` measures nothing, `--test` (cargo test --benches) runs
    // each benchmark once, and so does this.
    if !args.iter().any(|a| a == "--list") {
        let rounds = if args.iter().any(|a| a == "--test") {
            1
        } else {
            PAIRED_ROUNDS
        };
        paired_ratios(&calls, rounds);
    }
}
