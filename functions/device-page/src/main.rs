//! `device-page` as an AWS Lambda function. The endpoint's logic lives in `authfn::endpoints`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    authfn::lambda::serve::<authfn::functions::DevicePage>().await
}
