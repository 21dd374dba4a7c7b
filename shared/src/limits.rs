//! Rate limits and account lockout. Both live in the store: a serverless instance remembers
//! nothing between requests, and many instances serve one client.

use std::time::Duration;

use crate::App;
use crate::clock::UnixTime;
use crate::device::DeviceToken;
use crate::email::Email;
use crate::error::ApiError;
use crate::events::{AuthMethod, Event, EventType};
use crate::protocol::ClientId;
use crate::request::{HttpRequest, client_ip};
use crate::store::{Counter, CounterKey};
use crate::token::UserId;

const RATE_WINDOW: Duration = Duration::from_secs(60);

/// Mails one address may be sent per [`MAIL_WINDOW`], whatever they are for: enough for a
/// person who retries, too few to bomb a mailbox with.
pub const MAILS_PER_ADDRESS: u64 = 5;
/// The window [`MAILS_PER_ADDRESS`] is counted over.
pub const MAIL_WINDOW: Duration = Duration::from_secs(60 * 60);

/// The shortest wait a refusal asks for: a limit ending within the second still says "wait".
const MIN_RETRY_AFTER: Duration = Duration::from_secs(1);

/// How long to wait from `now` until `until`, at least [`MIN_RETRY_AFTER`].
fn retry_after(now: UnixTime, until: UnixTime) -> Duration {
    now.until(until).max(MIN_RETRY_AFTER)
}

impl App {
    /// Counts this request against the client IP's budget for `bucket` (one per endpoint). A
    /// refusal is a `rate_limited` event, `reason` the bucket.
    pub(crate) async fn rate_limit(
        &self,
        req: &HttpRequest,
        bucket: &'static str,
    ) -> Result<(), ApiError> {
        self.rate_limit_by(req, bucket, &client_ip(req, &self.config))
            .await
    }

    /// [`App::rate_limit`] against the budget of `key` (a user, say) rather than the client IP.
    pub(crate) async fn rate_limit_by(
        &self,
        req: &HttpRequest,
        bucket: &'static str,
        key: &str,
    ) -> Result<(), ApiError> {
        let now = self.now();
        let c = self
            .store
            .increment(
                &CounterKey::rate_limit(bucket, key),
                now.plus(RATE_WINDOW),
                now,
            )
            .await?;
        if c.count > self.config.rate_limit.per_minute {
            self.record(req, Event::new(EventType::RateLimited).reason(bucket));
            return Err(ApiError::RateLimited {
                retry_after: retry_after(now, c.expires_at),
            });
        }
        Ok(())
    }

    /// Counts one mail to `email` (by its hash) against the address's budget, before it is
    /// composed. Counted whether or not the address has an account, so the refusal says
    /// nothing about that either (nor does its event: `rate_limited`, reason `mail-to`, with
    /// neither the address nor its account).
    pub(crate) async fn count_mail_to(
        &self,
        req: &HttpRequest,
        email: &Email,
    ) -> Result<(), ApiError> {
        let now = self.now();
        let c = self
            .store
            .increment(&CounterKey::mail_to(email), now.plus(MAIL_WINDOW), now)
            .await?;
        if c.count > MAILS_PER_ADDRESS {
            self.record(req, Event::new(EventType::RateLimited).reason("mail-to"));
            return Err(ApiError::RateLimited {
                retry_after: retry_after(now, c.expires_at),
            });
        }
        Ok(())
    }

    /// Counts a sign-in attempt before its password is checked, against the device's own
    /// budget when it presented a valid device cookie for the account, else against the
    /// address's shared one. The count is one atomic increment, so however many attempts run
    /// at once, at most `max_failures` per window reach argon2; the rest are refused here with
    /// `423 account_locked`. `user` is the address's account, if it has one: the events of the
    /// attempt name it.
    pub(crate) async fn count_sign_in_attempt(
        &self,
        req: &HttpRequest,
        email: &Email,
        user: Option<&UserId>,
        device: Option<&DeviceToken>,
    ) -> Result<SignInAttempt, ApiError> {
        let key = match device {
            Some(device) => CounterKey::device_sign_in_attempts(&device.counter_id()),
            None => CounterKey::sign_in_attempts(email),
        };
        let facts = AttemptFacts {
            user: user.cloned(),
            method: AuthMethod::Password,
            failure: EventType::SignInFailed,
        };
        self.count_attempt(req, key, facts).await
    }

    /// Counts a second-factor attempt before its code is checked, with the password rule's
    /// shape and limits: against the device's own budget when it presented a valid device
    /// cookie for the account, else against the account's shared one. Someone holding the
    /// password cannot grind codes by opening one pending sign-in after another.
    pub(crate) async fn count_factor_attempt(
        &self,
        req: &HttpRequest,
        user: &UserId,
        method: AuthMethod,
        device: Option<&DeviceToken>,
    ) -> Result<SignInAttempt, ApiError> {
        let key = match device {
            Some(device) => CounterKey::device_factor_attempts(user, &device.counter_id()),
            None => CounterKey::factor_attempts(user),
        };
        let facts = AttemptFacts {
            user: Some(user.clone()),
            method,
            failure: EventType::SecondFactorFailed,
        };
        self.count_attempt(req, key, facts).await
    }

    /// One attempt against the lockout budget `key`, refused with `423 account_locked` once
    /// the budget is used up (a `sign_in.locked` event: the guess was never checked).
    async fn count_attempt(
        &self,
        req: &HttpRequest,
        key: CounterKey,
        facts: AttemptFacts,
    ) -> Result<SignInAttempt, ApiError> {
        let now = self.now();
        let policy = self.config.lockout;
        let c = self
            .store
            .increment(&key, now.plus(policy.window), now)
            .await?;
        if c.count > policy.max_failures {
            let locked = ApiError::AccountLocked {
                retry_after: retry_after(now, c.expires_at),
            };
            self.record(req, facts.event(EventType::SignInLocked, locked.code()));
            return Err(locked);
        }
        Ok(SignInAttempt {
            key,
            counter: c,
            facts,
        })
    }

    /// The answer to a wrong password. The failure that uses up the budget says so, and locks
    /// for the configured lock time from now (or the rest of the window, if longer).
    pub(crate) async fn sign_in_failed(
        &self,
        req: &HttpRequest,
        attempt: SignInAttempt,
    ) -> Result<ApiError, ApiError> {
        self.attempt_failed(req, attempt, ApiError::InvalidCredentials)
            .await
    }

    /// The answer to a failed attempt (a wrong password or second factor): `refused`, or,
    /// for the failure that uses up the budget, a lock for the configured lock time from now
    /// (or the rest of the window, if longer). Either way a failure event (`sign_in.failed`
    /// or `mfa.failed`, `reason` the code of `refused`), and for the lock `sign_in.locked`
    /// after it.
    pub(crate) async fn attempt_failed(
        &self,
        req: &HttpRequest,
        attempt: SignInAttempt,
        refused: ApiError,
    ) -> Result<ApiError, ApiError> {
        let now = self.now();
        let policy = self.config.lockout;
        let facts = &attempt.facts;
        self.record(req, facts.event(facts.failure, refused.code()));
        if attempt.counter.count < policy.max_failures {
            return Ok(refused);
        }
        let until = now
            .plus(policy.lock_duration)
            .max(attempt.counter.expires_at);
        // Concurrent attempts may have counted past the limit meanwhile: writing the limit
        // back keeps the lock, since the next attempt counts one past it.
        let locked = Counter {
            count: policy.max_failures,
            expires_at: until,
        };
        self.store.put_counter(&attempt.key, locked).await?;
        let locked = ApiError::AccountLocked {
            retry_after: retry_after(now, until),
        };
        self.record(req, facts.event(EventType::SignInLocked, locked.code()));
        Ok(locked)
    }

    /// Refuses authentication as `client_id` from a network locked out for it: one that used
    /// up its failures. Keyed by client and network, so someone guessing a resource server's
    /// secret locks out only themselves, never the resource server.
    pub(crate) async fn check_client_lockout(
        &self,
        client_id: &ClientId,
        network: &str,
    ) -> Result<(), ApiError> {
        let now = self.now();
        match self
            .store
            .counter(
                &CounterKey::client_auth_failures(client_id.as_str(), network),
                now,
            )
            .await?
        {
            Some(c) if c.count >= self.config.lockout.max_failures => Err(ApiError::ClientLocked {
                retry_after: retry_after(now, c.expires_at),
            }),
            _ => Ok(()),
        }
    }

    /// Records a failed client authentication, counted apart from the per-IP request budget;
    /// the failure that uses up the budget locks the network out for the lockout time, as
    /// `sign_in_failed` does for passwords. Returns the error to answer.
    pub(crate) async fn record_client_failure(
        &self,
        client_id: &ClientId,
        network: &str,
        refused: ApiError,
    ) -> Result<ApiError, ApiError> {
        let now = self.now();
        let policy = self.config.lockout;
        let failures = CounterKey::client_auth_failures(client_id.as_str(), network);
        let c = self
            .store
            .increment(&failures, now.plus(policy.window), now)
            .await?;
        if c.count < policy.max_failures {
            return Ok(refused);
        }
        let until = now.plus(policy.lock_duration);
        self.store
            .put_counter(
                &failures,
                Counter {
                    count: policy.max_failures,
                    expires_at: until,
                },
            )
            .await?;
        Ok(ApiError::ClientLocked {
            retry_after: retry_after(now, until),
        })
    }

    /// A right password (or second factor) clears the budget it was counted against (only that one: signing in
    /// on a trusted device leaves a lock on the address in place for other clients).
    ///
    /// Unless this attempt was the only one counted: then there is nothing to forgive, and
    /// the delete would be a write on every clean sign-in for nothing. The counter keeps this
    /// attempt until its window ends; the next sign-in that succeeds clears it.
    pub(crate) async fn sign_in_succeeded(&self, attempt: SignInAttempt) -> Result<(), ApiError> {
        if attempt.counter.count <= 1 {
            return Ok(());
        }
        Ok(self.store.delete_counter(&attempt.key).await?)
    }
}

/// A sign-in attempt that was counted and may go on to argon2.
pub(crate) struct SignInAttempt {
    key: CounterKey,
    counter: Counter,
    facts: AttemptFacts,
}

/// What the events of an attempt say: whose account (when the address has one), how the user
/// tried to prove it, and what a wrong guess is.
struct AttemptFacts {
    user: Option<UserId>,
    method: AuthMethod,
    failure: EventType,
}

impl AttemptFacts {
    fn event(&self, kind: EventType, reason: &'static str) -> Event {
        let event = Event::new(kind).method(self.method).reason(reason);
        match &self.user {
            Some(user) => event.user(user),
            None => event,
        }
    }
}
