//! `passkey-sign-in-finish` as an AWS Lambda function. The endpoint's logic lives in `authfn::endpoints`.

// An instance serves one request at a time: one thread, no worker pool to start (README,
// "Size and cold start"); argon2 still runs on tokio's blocking pool.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    authfn::lambda::serve::<authfn::functions::PasskeySignInFinish>().await
}
