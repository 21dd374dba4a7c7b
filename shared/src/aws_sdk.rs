//! What authfn's AWS SDK clients (the DynamoDB store, the SES mailer) share: how they load
//! their configuration inside Lambda, and how a failed call is described for the log.

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::error::{Cause, context};

/// The default configuration as a Lambda function needs it: the function is handed its role's
/// credentials and its region in environment variables, and reading just those skips building
/// the default chains' profile, web-identity (an STS client) and instance-metadata providers,
/// about an eighth of a function's start-up instructions (callgrind).
pub(crate) fn lambda_config_loader() -> aws_config::ConfigLoader {
    use aws_config::environment::{
        EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
    };
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    if std::env::var_os("AWS_REGION").is_some() {
        loader = loader.region(EnvironmentVariableRegionProvider::new());
    }
    loader
}

/// Describes a failed `call` (`"DynamoDB GetItem"`, `"SES SendEmail"`) for the log and the
/// 503: the kind of failure, with the SDK's error as the cause for connection, timeout and
/// configuration problems. A refusal gives only the service's error code, and an unreadable
/// response only that: their text can quote the request, a stored item, or an address.
pub(crate) fn failure<E>(call: &str, err: SdkError<E>) -> Cause
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let what = match &err {
        SdkError::TimeoutError(_) => "timed out",
        SdkError::DispatchFailure(f) if f.is_timeout() => "timed out connecting",
        SdkError::DispatchFailure(f) if f.is_io() => "could not connect",
        SdkError::DispatchFailure(_) => "request not sent",
        SdkError::ResponseError(_) => return format!("{call}: unreadable response").into(),
        SdkError::ServiceError(_) => {
            let code = err.code().unwrap_or("without a code");
            return format!("{call}: refused, error {code}").into();
        }
        // Missing region or credentials: configuration, which the operator needs to see.
        SdkError::ConstructionFailure(_) => "request not built",
        _ => "failed",
    };
    context(format!("{call}: {what}"), err)
}
