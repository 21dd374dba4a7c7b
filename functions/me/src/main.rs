//! `me` as an AWS Lambda function. The endpoint's logic lives in `authfn::endpoints`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    authfn::lambda::serve_with_http_client::<authfn::functions::Me>().await
}
