//! authfn: the auth backend every authfn function is built from.
//!
//! Endpoint logic is written once here, against [`http::Request`] / [`http::Response`] and the
//! [`store::Store`] trait, so AWS Lambda, Cloudflare Workers and the local dev server run the
//! same code. A runtime adapter (see [`lambda`]) only converts requests and responses.
//!
//! Your own functions authenticate a request with one call: [`App::authenticate`].
#![forbid(unsafe_code)]

pub mod access_log;
pub mod app;
#[cfg(feature = "dynamodb")]
pub mod aws_sdk;
pub mod clock;
pub mod config;
pub mod cookie;
pub mod cors;
pub mod crypto;
pub mod csrf;
pub mod data_keys;
pub mod device;
pub mod email;
pub mod endpoints;
pub mod error;
pub mod events;
pub mod federation;
mod html;
#[cfg(all(feature = "https", not(target_arch = "wasm32")))]
mod https;
pub mod jwk;
pub mod jws;
pub mod limits;
pub mod mail;
pub mod mailed;
pub mod metrics;
pub mod network;
pub mod oauth;
pub mod password;
pub mod protocol;
pub mod recovery;
pub mod request;
pub mod response;
pub mod secret;
pub mod ses;
pub mod session;
pub mod settings;
pub mod signature;
pub mod store;
pub mod token;
pub mod totp;
pub mod webauthn;

#[cfg(feature = "lambda")]
pub mod lambda;
#[cfg(all(feature = "workers", target_arch = "wasm32"))]
pub mod workers;

pub use app::App;
pub use clock::{Clock, UnixTime};
pub use config::Config;
pub use endpoints::Endpoint;
#[cfg(not(target_arch = "wasm32"))]
pub use endpoints::{Handler, functions};
pub use error::ApiError;
pub use session::Authenticated;
