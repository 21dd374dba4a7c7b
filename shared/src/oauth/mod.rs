//! authfn as an OAuth 2.0 / OpenID Connect token issuer for non-browser clients: signing keys
//! and the JWKS, JWT access tokens, and (in the endpoints) the device authorization grant and
//! rotating refresh tokens.

pub mod access_token;
pub mod config;
pub mod error;
pub mod grant;
pub mod keys;
pub mod user_code;
pub mod verifier;

pub use access_token::{AccessTokenClaims, InvalidAccessToken};
pub use config::{OAuthClient, OAuthConfig};
pub use grant::{DeviceCode, RefreshToken};
pub use keys::{JwtKey, JwtKeys};
pub use user_code::UserCode;
