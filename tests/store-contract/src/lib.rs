//! The [`Store`] contract, written once and run against every backend, so the in-memory store
//! the handler tests use cannot drift from the stores production uses: natively over the
//! memory and DynamoDB stores (`shared/tests/store_contract.rs`), and inside workerd over
//! the Cloudflare store (`tests/store-contract-worker`).
//!
//! A case returns its first failed check instead of panicking: a panic in a Worker aborts the
//! whole isolate, which would hide every case after it.
//!
//! [`Store`]: authfn::store::Store
#![allow(
    clippy::unwrap_used,
    reason = "test fixtures: a fixture that cannot be built is a bug in the test"
)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use authfn::store::{Store, StoreError};

pub mod cases;

/// Calls `$callback! { $($args)* ; case, case, … }` with the name of every contract case:
/// the one list of cases, which both harnesses expand.
#[macro_export]
macro_rules! for_each_case {
    ($callback:ident ! { $($args:tt)* }) => {
        $callback! { $($args)* ;
            create_user_refuses_a_taken_email_without_partial_writes,
            create_user_refuses_a_taken_user_id_without_partial_writes,
            exactly_one_of_many_concurrent_sign_ups_wins,
            users_are_found_by_email_and_by_id,
            look_alike_spellings_of_an_email_are_one_user,
            sessions_expire_at_the_idle_deadline,
            sessions_expire_at_the_absolute_deadline,
            renewal_moves_the_idle_deadline,
            renewal_never_creates_a_session,
            deleted_sessions_are_gone,
            a_session_is_read_with_its_user_and_only_as_its_users,
            revoking_all_sessions_bumps_the_epoch_and_deletes_only_that_users_sessions,
            increments_count_up_and_keep_the_window,
            concurrent_increments_are_atomic,
            an_expired_counter_restarts_at_one_with_the_new_window,
            counters_can_be_put_read_and_deleted,
            a_federation_attempt_is_taken_once_and_only_while_live,
            exactly_one_of_many_concurrent_takers_gets_the_attempt,
            a_federated_user_is_found_by_identity_and_is_passwordless,
            create_federated_user_refuses_a_taken_email_or_identity_without_partial_writes,
            exactly_one_of_many_concurrent_first_federated_sign_ins_wins,
            an_identity_links_to_one_user_only,
            a_live_user_code_is_claimed_once,
            device_updates_are_compare_and_swap,
            exactly_one_of_many_concurrent_device_approvals_lands,
            an_answer_lands_once_and_only_while_the_code_is_pending,
            polls_racing_the_users_approval_never_make_it_fail,
            exactly_one_of_many_concurrent_answers_lands,
            a_refresh_token_rotates_once,
            exactly_one_of_many_concurrent_rotations_wins,
            a_token_of_a_revoked_family_does_not_rotate,
            revoked_families_stay_revoked_until_their_end,
            a_challenge_reads_back_by_key_and_by_token_whatever_its_action,
            a_new_challenge_under_a_key_voids_the_old_one,
            an_expired_challenge_reads_as_absent_and_cannot_be_used,
            wrong_codes_are_counted_and_the_last_one_deletes_the_challenge,
            concurrent_wrong_codes_are_each_counted_once,
            exactly_one_of_many_concurrent_takers_gets_the_challenge,
            completing_a_sign_up_creates_the_user_and_its_session_and_takes_the_challenge,
            a_sign_up_whose_challenge_is_gone_writes_nothing,
            a_sign_up_onto_a_taken_address_writes_nothing_and_leaves_the_challenge,
            exactly_one_of_many_concurrent_sign_up_completions_wins,
            setting_a_password_bumps_the_epoch_and_ends_every_session_of_the_user,
            a_reset_takes_its_challenge_and_proves_the_address,
            a_reset_with_a_gone_challenge_or_for_an_unknown_user_writes_nothing,
            marking_an_address_proven_needs_the_user_to_still_have_it,
            users_keep_whether_their_address_is_proven,
            changing_an_email_moves_the_user_to_the_proven_address_and_frees_the_old_one,
            an_email_change_whose_challenge_or_user_is_gone_writes_nothing,
            an_email_change_onto_a_taken_address_writes_nothing_and_leaves_the_challenge,
            exactly_one_of_many_concurrent_email_changes_of_one_challenge_wins,
            of_users_racing_onto_one_address_exactly_one_gets_it,
            deleting_a_user_removes_everything_that_names_it_and_nothing_else,
            deleting_a_federated_user_unlinks_every_identity,
            ending_every_session_keeps_the_users_other_records,
            a_totp_enrolment_reads_back_until_it_lapses_and_a_new_one_replaces_it,
            confirming_totp_takes_the_enrolment_and_stores_the_factor_codes_and_summary,
            exactly_one_of_concurrent_totp_confirmations_wins,
            a_totp_step_is_accepted_once_and_never_after_a_newer_one,
            removing_totp_clears_the_summary_and_leaves_the_recovery_codes,
            recovery_codes_are_replaced_whole_and_each_is_taken_once,
            exactly_one_of_concurrent_takers_gets_a_recovery_code,
            a_passkey_reads_back_with_every_field_and_is_counted_on_its_user,
            a_first_passkey_stores_its_codes_only_while_the_account_has_no_factor,
            a_credential_id_is_registered_once_across_all_accounts,
            using_a_passkey_is_compare_and_set_on_its_sign_count,
            renaming_and_removing_a_passkey_keep_the_summary_and_free_its_credential_id,
            a_pending_sign_in_reads_back_until_it_lapses_and_is_taken_once,
            wrong_second_factors_are_counted_and_the_last_deletes_the_pending_sign_in,
            a_webauthn_challenge_answers_one_ceremony_while_live,
            sessions_keep_when_their_user_last_authenticated,
            a_users_session_list_holds_its_live_current_sessions_newest_first,
            ending_one_session_ends_only_that_live_session_of_that_user,
            activity_reads_back_newest_first_in_pages_without_gaps_or_repeats,
            deleting_a_user_removes_its_activity_and_sessions,
        }
    };
}

/// What a case returns: `Err` with the first check that failed.
pub type Outcome = Result<(), Failure>;

/// A failed check, or a store call that failed where the case needed it to succeed.
pub struct Failure(String);

impl Failure {
    /// A failure with this description.
    pub fn new(message: impl Into<String>) -> Self {
        Failure(message.into())
    }

    /// What failed.
    pub fn message(&self) -> &str {
        &self.0
    }
}

/// The message as it is, so a native test's `unwrap()` prints it readably.
impl std::fmt::Debug for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure(format!("store call failed: {}", authfn::error::chain(&e)))
    }
}

/// `Option::unwrap` for a record a case has just written: absence fails the case.
pub trait Found<T> {
    /// The record, or a failure saying it was missing.
    fn found(self) -> Result<T, Failure>;
}

impl<T> Found<T> for Option<T> {
    fn found(self) -> Result<T, Failure> {
        self.ok_or_else(|| Failure::new("expected a record, found none"))
    }
}

/// `assert!` that fails the case instead of panicking.
#[macro_export]
macro_rules! check {
    ($cond:expr $(,)?) => {
        if !$cond {
            return Err($crate::Failure::new(format!("check failed: {}", stringify!($cond))));
        }
    };
    ($cond:expr, $($message:tt)+) => {
        if !$cond {
            return Err($crate::Failure::new(format!("check failed: {}: {}", stringify!($cond), format!($($message)+))));
        }
    };
}

/// `assert_eq!` that fails the case instead of panicking.
#[macro_export]
macro_rules! check_eq {
    ($left:expr, $right:expr $(,)?) => {
        $crate::check_eq!($left, $right, "")
    };
    ($left:expr, $right:expr, $($message:tt)+) => {
        match (&$left, &$right) {
            (left, right) => {
                if left != right {
                    return Err($crate::Failure::new(format!(
                        "{} == {} failed {}\n  left: {:?}\n right: {:?}",
                        stringify!($left),
                        stringify!($right),
                        format!($($message)+),
                        left,
                        right
                    )));
                }
            }
        }
    };
}

/// Runs the store calls at once and gives their results in order, or the first failure.
/// Natively each runs on its own task of a multi-threaded runtime.
#[cfg(not(target_arch = "wasm32"))]
pub async fn concurrently<F, T, E>(calls: impl IntoIterator<Item = F>) -> Result<Vec<T>, Failure>
where
    F: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
    Failure: From<E>,
{
    let tasks: Vec<_> = calls.into_iter().map(tokio::spawn).collect();
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(
            task.await
                .map_err(|e| Failure::new(format!("a concurrent call panicked: {e}")))??,
        );
    }
    Ok(results)
}

/// Runs the store calls at once and gives their results in order, or the first failure.
/// In a Worker they interleave on the one thread: every call's request to KV or D1 is in
/// flight before any answers, so the backend, not this code, decides the races.
#[cfg(target_arch = "wasm32")]
pub async fn concurrently<F, T, E>(calls: impl IntoIterator<Item = F>) -> Result<Vec<T>, Failure>
where
    F: Future<Output = Result<T, E>>,
    Failure: From<E>,
{
    futures_util::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.map_err(Failure::from))
        .collect()
}

/// A running case, boxed so that every case has one type.
pub type CaseFuture = Pin<Box<dyn Future<Output = Outcome>>>;

/// A case as data, for a harness that runs the list at run time (the Worker).
pub struct Case {
    /// The case's name, as in the native test names.
    pub name: &'static str,
    /// Runs the case against a fresh, empty store.
    pub run: fn(Arc<dyn Store>) -> CaseFuture,
}

macro_rules! case_table {
    (; $($case:ident,)*) => {
        vec![$(Case { name: stringify!($case), run: |store| Box::pin(cases::$case(store)) },)*]
    };
}

/// Every contract case, in the order of [`for_each_case!`].
pub fn cases() -> Vec<Case> {
    for_each_case!(case_table! {})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unequal() -> Outcome {
        check_eq!(1 + 1, 3, "arithmetic");
        Ok(())
    }

    fn false_check() -> Outcome {
        check!(1 > 2, "ordering");
        Ok(())
    }

    #[test]
    fn failed_checks_fail_the_case_and_say_what_they_saw() {
        let message = unequal().unwrap_err().message().to_owned();
        assert!(
            message.contains("1 + 1 == 3") && message.contains("arithmetic"),
            "{message}"
        );
        assert!(
            message.contains("left: 2") && message.contains("right: 3"),
            "{message}"
        );
        assert!(
            false_check()
                .unwrap_err()
                .message()
                .contains("1 > 2: ordering")
        );
        assert!(None::<u8>.found().is_err());
    }
}
