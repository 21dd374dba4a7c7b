//! The baseline for `bench/cold-start.sh`: a `lambda_http` function that does nothing but
//! answer "hello", so a function's cold start can be read as a ratio against the runtime's own.

use lambda_http::{Error, Request, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_: Request| async { Ok::<_, Error>("hello") })).await
}
