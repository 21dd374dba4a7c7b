//! Sign-in through upstream OpenID Connect providers (Okta, Azure AD, Google, …): the
//! authorization code flow with PKCE (S256), `state` bound to the browser, and `nonce`.
//!
//! The endpoints live in [`crate::endpoints::federation`]; this module holds what they are
//! built from: configuration, the per-attempt secrets, discovery with its key cache, ID token
//! validation, and the outbound HTTP client trait each runtime implements.

pub mod attempt;
pub mod config;
pub mod discovery;
pub mod id_token;
pub mod outbound;

pub use config::{FederationConfig, ProviderConfig, ProviderName};
pub use outbound::HttpClient;
