//! [`SesMailer`]: SES v2 through the AWS SDK, for Lambda functions and the dev server.

use std::time::Duration;

use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

use super::MailFrom;
use crate::error::context;
use crate::mail::{Mail, MailError, Mailer};

/// Sends each mail with SES v2 `SendEmail` from one verified identity.
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: Client,
    from: MailFrom,
}

impl SesMailer {
    /// Connects inside a Lambda function, with the role's credentials and region from the
    /// environment as the DynamoDB store does, optionally to another SES API (`endpoint_url`).
    pub async fn connect_in_lambda(from: MailFrom, endpoint_url: Option<String>) -> SesMailer {
        Self::connect_with(crate::aws_sdk::lambda_config_loader(), from, endpoint_url).await
    }

    /// Connects from a loader the caller has started to configure (credentials, region).
    pub async fn connect_with(
        loader: impl crate::aws_sdk::LoadConfig,
        from: MailFrom,
        endpoint_url: Option<String>,
    ) -> SesMailer {
        // A flow waits for the mail before it answers: during an SES outage it should answer
        // 503 within seconds. A second attempt only after a failure that SES did not accept,
        // as far as the SDK can tell; a duplicate mail is better than none.
        let loader = crate::aws_sdk::with_budget(
            loader,
            Duration::from_secs(1),
            Duration::from_secs(3),
            Duration::from_secs(6),
            endpoint_url,
        );
        SesMailer::from_client(Client::new(&loader.load().await), from)
    }

    /// A mailer over a client the caller built.
    pub fn from_client(client: Client, from: MailFrom) -> SesMailer {
        SesMailer { client, from }
    }
}

#[async_trait::async_trait]
impl Mailer for SesMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let content = simple_content(mail).map_err(|e| {
            MailError::Unavailable(context("SES SendEmail request could not be built", e))
        })?;
        self.client
            .send_email()
            .from_email_address(self.from.as_str())
            .destination(
                Destination::builder()
                    .to_addresses(mail.to.as_str())
                    .build(),
            )
            .content(content)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

fn simple_content(mail: &Mail) -> Result<EmailContent, aws_sdk_sesv2::error::BuildError> {
    let utf8 = |data: &str| Content::builder().data(data).charset("UTF-8").build();
    let body = Body::builder()
        .text(utf8(&mail.text)?)
        .html(utf8(&mail.html)?)
        .build();
    let message = Message::builder()
        .subject(utf8(&mail.subject)?)
        .body(body)
        .build();
    Ok(EmailContent::builder().simple(message).build())
}

/// A failed send as the mailer reports it: see [`crate::aws_sdk::failure`].
fn unavailable<E>(err: SdkError<E>) -> MailError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    MailError::Unavailable(crate::aws_sdk::failure("SES SendEmail", err))
}
