//! What authfn's AWS SDK clients (the DynamoDB store, the SES mailer, the EventBridge bus)
//! share: how they load their configuration inside Lambda, their time budget, and how a failed
//! call is described for the log.

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::config::{SharedCredentialsProvider, SharedHttpClient};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::error::{Cause, context};

/// Where an SDK client's configuration comes from: [`aws_config`]'s loader, with its default
/// chains (the dev server, tests), or [`LambdaConfig`] in a Lambda function.
pub trait LoadConfig: Sized {
    /// The HTTPS client the SDK uses.
    fn http_client(self, client: SharedHttpClient) -> Self;
    /// The time budgets of a call.
    fn timeout_config(self, timeouts: TimeoutConfig) -> Self;
    /// When a failed call is tried again.
    fn retry_config(self, retry: RetryConfig) -> Self;
    /// Another API than AWS's, for local testing.
    fn endpoint_url(self, url: impl Into<String>) -> Self;
    /// The configuration.
    fn load(self) -> impl Future<Output = SdkConfig> + Send;
}

impl LoadConfig for aws_config::ConfigLoader {
    fn http_client(self, client: SharedHttpClient) -> Self {
        self.http_client(client)
    }
    fn timeout_config(self, timeouts: TimeoutConfig) -> Self {
        self.timeout_config(timeouts)
    }
    fn retry_config(self, retry: RetryConfig) -> Self {
        self.retry_config(retry)
    }
    fn endpoint_url(self, url: impl Into<String>) -> Self {
        self.endpoint_url(url)
    }
    fn load(self) -> impl Future<Output = SdkConfig> + Send {
        self.load()
    }
}

/// The configuration as a Lambda function needs it: the function is handed its role's
/// credentials and its region in environment variables, and reading just those, without
/// `aws_config`'s loader, leaves its default chains (profile files, web identity and its STS
/// client, container and instance metadata) out of every function's binary and start-up.
#[derive(Default)]
pub struct LambdaConfig {
    http_client: Option<SharedHttpClient>,
    timeouts: Option<TimeoutConfig>,
    retry: Option<RetryConfig>,
    endpoint_url: Option<String>,
}

impl LoadConfig for LambdaConfig {
    fn http_client(self, client: SharedHttpClient) -> Self {
        LambdaConfig {
            http_client: Some(client),
            ..self
        }
    }
    fn timeout_config(self, timeouts: TimeoutConfig) -> Self {
        LambdaConfig {
            timeouts: Some(timeouts),
            ..self
        }
    }
    fn retry_config(self, retry: RetryConfig) -> Self {
        LambdaConfig {
            retry: Some(retry),
            ..self
        }
    }
    fn endpoint_url(self, url: impl Into<String>) -> Self {
        LambdaConfig {
            endpoint_url: Some(url.into()),
            ..self
        }
    }
    async fn load(self) -> SdkConfig {
        // Without a region or credentials every call fails as "request not built" (see
        // `failure`), which names the configuration.
        let region = std::env::var("AWS_REGION")
            .ok()
            .filter(|r| !r.is_empty())
            .map(aws_config::Region::new);
        let credentials = SharedCredentialsProvider::new(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        );
        let mut config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(region)
            .credentials_provider(credentials);
        config
            .set_http_client(self.http_client)
            .set_timeout_config(self.timeouts)
            .set_retry_config(self.retry)
            .set_endpoint_url(self.endpoint_url);
        config.build()
    }
}

/// What a Lambda function's SDK clients start from (see [`LambdaConfig`]).
pub(crate) fn lambda_config_loader() -> LambdaConfig {
    LambdaConfig::default()
}

/// How much longer than their production budgets authfn's AWS calls may take:
/// `AUTHFN_AWS_TIMEOUT_SCALE` (a whole number from 1 to 10; 1, the production setting, when
/// unset or not such a number). For local emulators only: a single-threaded one (moto's
/// server on a 2-core CI machine) can queue a burst of calls for seconds, and an attempt
/// timed out there may still be applied, so the SDK's retry would apply a write twice (count a
/// failed sign-in twice, send a mail twice) in a way AWS's latency never causes.
pub(crate) fn scaled(budget: std::time::Duration) -> std::time::Duration {
    static SCALE: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let scale = *SCALE.get_or_init(|| {
        std::env::var("AUTHFN_AWS_TIMEOUT_SCALE")
            .ok()
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|s| (1..=10).contains(s))
            .unwrap_or(1)
    });
    budget * scale
}

/// `loader` for a client whose call a request waits on (SES, EventBridge): a hard time budget
/// (at most `connect` to connect, `attempt` per try, `total` in all), one
/// retry for a failure the service may not have seen, our HTTPS client, and `endpoint_url` in
/// place of AWS's for local testing.
pub(crate) fn with_budget<L: LoadConfig>(
    loader: L,
    connect: std::time::Duration,
    attempt: std::time::Duration,
    total: std::time::Duration,
    endpoint_url: Option<String>,
) -> L {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(scaled(connect))
        .operation_attempt_timeout(scaled(attempt))
        .operation_timeout(scaled(total))
        .build();
    let loader = loader
        .http_client(crate::store::dynamodb::connection::https_client(
            endpoint_url.is_some(),
        ))
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(2));
    match endpoint_url {
        Some(url) => loader.endpoint_url(url),
        None => loader,
    }
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
