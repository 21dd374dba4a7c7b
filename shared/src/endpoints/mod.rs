//! One module per endpoint, and the table that names them.

use http::Method;

use crate::App;
use crate::error::ApiError;
use crate::request::HttpRequest;
use crate::response::HttpResponse;

mod credentials;
pub mod me;
pub mod session;
pub mod sign_in;
pub mod sign_out;
pub mod sign_up;

/// Every endpoint authfn serves. Each is deployed as its own function (`functions/<name>`);
/// the local dev server serves them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    SignUp,
    SignIn,
    SignOut,
    SignOutAll,
    Session,
    /// An example of a protected route in your own API.
    Me,
}

impl Endpoint {
    pub const ALL: [Endpoint; 6] =
        [Endpoint::SignUp, Endpoint::SignIn, Endpoint::SignOut, Endpoint::SignOutAll, Endpoint::Session, Endpoint::Me];

    pub fn path(self) -> &'static str {
        match self {
            Endpoint::SignUp => "/auth/sign-up",
            Endpoint::SignIn => "/auth/sign-in",
            Endpoint::SignOut => "/auth/sign-out",
            Endpoint::SignOutAll => "/auth/sign-out/all",
            Endpoint::Session => "/auth/session",
            Endpoint::Me => "/me",
        }
    }

    pub fn method_name(self) -> &'static str {
        match self {
            Endpoint::Session | Endpoint::Me => "GET",
            Endpoint::SignUp | Endpoint::SignIn | Endpoint::SignOut | Endpoint::SignOutAll => "POST",
        }
    }

    pub fn method(self) -> Method {
        if self.method_name() == "GET" { Method::GET } else { Method::POST }
    }

    /// The name of the function crate (`functions/<name>`) and of the deployed function.
    pub fn function_name(self) -> &'static str {
        match self {
            Endpoint::SignUp => "sign-up",
            Endpoint::SignIn => "sign-in",
            Endpoint::SignOut => "sign-out",
            Endpoint::SignOutAll => "sign-out-all",
            Endpoint::Session => "session",
            Endpoint::Me => "me",
        }
    }

    pub fn for_path(path: &str) -> Option<Endpoint> {
        Endpoint::ALL.into_iter().find(|e| e.path() == path)
    }

    pub(crate) async fn call(self, app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
        match self {
            Endpoint::SignUp => sign_up::handle(app, req).await,
            Endpoint::SignIn => sign_in::handle(app, req).await,
            Endpoint::SignOut => sign_out::one(app, req).await,
            Endpoint::SignOutAll => sign_out::all(app, req).await,
            Endpoint::Session => session::handle(app, req).await,
            Endpoint::Me => me::handle(app, req).await,
        }
    }
}
