//! Rate limits and account lockout. Both live in the store: a serverless instance remembers
//! nothing between requests, and many instances serve one client.

use std::time::Duration;

use crate::App;
use crate::email::Email;
use crate::error::ApiError;
use crate::store::{Counter, CounterKey};

const RATE_WINDOW: Duration = Duration::from_secs(60);

impl App {
    /// Counts this request against the client IP's budget for `bucket` (one per endpoint).
    pub(crate) async fn rate_limit(&self, bucket: &str, client_ip: &str) -> Result<(), ApiError> {
        let now = self.now();
        let key = CounterKey::rate_limit(bucket, client_ip);
        let c = self.store.increment(&key, now.plus(RATE_WINDOW), now).await?;
        if c.count > self.config.rate_limit.per_minute {
            return Err(ApiError::RateLimited { retry_after_secs: now.secs_until(c.expires_at).max(1) });
        }
        Ok(())
    }

    /// Refuses sign-in while the address is locked. Keyed by the address, not the user, so a
    /// lock looks the same whether or not an account exists.
    pub(crate) async fn check_lockout(&self, email: &Email) -> Result<(), ApiError> {
        let now = self.now();
        match self.store.counter(&CounterKey::lockout(email), now).await? {
            Some(lock) => Err(ApiError::AccountLocked { retry_after_secs: now.secs_until(lock.expires_at).max(1) }),
            None => Ok(()),
        }
    }

    /// Records a failed sign-in; the failure that reaches the limit locks the address.
    pub(crate) async fn record_failure(&self, email: &Email) -> Result<ApiError, ApiError> {
        let now = self.now();
        let policy = self.config.lockout;
        let failures = CounterKey::sign_in_failures(email);
        let c = self.store.increment(&failures, now.plus(policy.window), now).await?;
        if c.count < policy.max_failures {
            return Ok(ApiError::InvalidCredentials);
        }
        let until = now.plus(policy.lock_duration);
        self.store.put_counter(&CounterKey::lockout(email), Counter { count: 1, expires_at: until }).await?;
        self.store.delete_counter(&failures).await?;
        Ok(ApiError::AccountLocked { retry_after_secs: now.secs_until(until).max(1) })
    }

    /// Refuses authentication as `client_id` from a network locked out for it. Keyed by
    /// client and network, so someone guessing a resource server's secret locks out only
    /// themselves, never the resource server.
    pub(crate) async fn check_client_lockout(&self, client_id: &str, network: &str) -> Result<(), ApiError> {
        let now = self.now();
        match self.store.counter(&CounterKey::client_lockout(client_id, network), now).await? {
            Some(lock) => Err(ApiError::ClientLocked { retry_after_secs: now.secs_until(lock.expires_at).max(1) }),
            None => Ok(()),
        }
    }

    /// Records a failed client authentication, counted apart from the per-IP request budget;
    /// the failure that reaches the sign-in lockout limit locks the network out for the
    /// sign-in lockout time. Returns the error to answer.
    pub(crate) async fn record_client_failure(&self, client_id: &str, network: &str, refused: ApiError) -> Result<ApiError, ApiError> {
        let now = self.now();
        let policy = self.config.lockout;
        let failures = CounterKey::client_auth_failures(client_id, network);
        let c = self.store.increment(&failures, now.plus(policy.window), now).await?;
        if c.count < policy.max_failures {
            return Ok(refused);
        }
        let until = now.plus(policy.lock_duration);
        self.store.put_counter(&CounterKey::client_lockout(client_id, network), Counter { count: 1, expires_at: until }).await?;
        self.store.delete_counter(&failures).await?;
        Ok(ApiError::ClientLocked { retry_after_secs: now.secs_until(until).max(1) })
    }

    pub(crate) async fn clear_failures(&self, email: &Email) -> Result<(), ApiError> {
        Ok(self.store.delete_counter(&CounterKey::sign_in_failures(email)).await?)
    }
}
