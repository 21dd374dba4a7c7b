//! The contract cases of second factors and passkeys: TOTP enrolments and factors, recovery
//! codes, passkeys, pending sign-ins and WebAuthn challenges, and the factor summary on the
//! user that every factor change keeps in step.

use std::sync::Arc;
use std::time::Duration;

use authfn::store::{
    CeremonyPurpose, CredentialId, FactorId, FactorSummary, FirstFactor, Passkey, PasskeyInsert,
    PendingSignIn, RecoveryCodes, SessionRecord, Store, TotpEnrolment, TotpFactor, UserRecord,
    WebAuthnChallenge,
};
use authfn::token::{SessionToken, TokenHash, UserId};

use super::{T0, before, session_of, user};
use crate::{Found, Outcome, check, check_eq, concurrently};

/// A TOTP enrolment's lifetime, a pending sign-in's and a WebAuthn challenge's.
pub const ENROLMENT: Duration = Duration::from_secs(10 * 60);
/// A pending sign-in's and a WebAuthn challenge's lifetime.
pub const CEREMONY: Duration = Duration::from_secs(5 * 60);
/// Wrong second factors that delete a pending sign-in.
pub const MAX_FACTOR_FAILURES: u32 = 5;

/// A random hash, for keys and code hashes.
pub fn random_hash() -> TokenHash {
    SessionToken::generate().unwrap().hash()
}

/// Stands for an encrypted secret: random, so each enrolment's value is its own.
fn sealed() -> String {
    format!("v1.sealed.{}", UserId::generate().unwrap())
}

/// A live TOTP enrolment of `user`, lapsing `ENROLMENT` after `T0`.
pub fn totp_enrolment(user: &UserRecord) -> TotpEnrolment {
    TotpEnrolment {
        user_id: user.id.clone(),
        encrypted_secret: sealed(),
        expires_at: T0.plus(ENROLMENT),
    }
}

/// The TOTP factor confirming an enrolment: never used yet.
pub fn totp_factor(user: &UserRecord) -> TotpFactor {
    TotpFactor {
        user_id: user.id.clone(),
        encrypted_secret: sealed(),
        last_step: None,
        created_at: T0,
        last_used_at: None,
    }
}

/// Ten recovery codes of `user` (random hashes), made at `T0`.
pub fn recovery_codes(user: &UserRecord) -> RecoveryCodes {
    RecoveryCodes {
        user_id: user.id.clone(),
        code_hashes: (0..10).map(|_| random_hash()).collect(),
        created_at: T0,
    }
}

/// A passkey of `user` with this credential id, every optional field set.
pub fn passkey(user: &UserRecord, credential: &[u8]) -> Passkey {
    Passkey {
        user_id: user.id.clone(),
        id: FactorId::generate().unwrap(),
        credential_id: CredentialId::new(credential.to_vec()).unwrap(),
        public_key: vec![
            0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20, 0xff,
        ],
        sign_count: 7,
        transports: vec!["internal".into(), "hybrid".into()],
        backup_eligible: true,
        backed_up: false,
        name: "Phone \u{1F4F1} <b>&".into(),
        created_at: T0,
        last_used_at: None,
    }
}

/// A live pending sign-in of `user`, lapsing `CEREMONY` after `T0`.
pub fn pending_sign_in(user: &UserRecord) -> PendingSignIn {
    PendingSignIn {
        token_hash: random_hash(),
        user_id: user.id.clone(),
        user_epoch: user.session_epoch,
        first_factor: FirstFactor::Password,
        failures: 0,
        created_at: T0,
        expires_at: T0.plus(CEREMONY),
    }
}

/// A live WebAuthn challenge for `purpose`, lapsing `CEREMONY` after `T0`.
pub fn webauthn_challenge(purpose: CeremonyPurpose) -> WebAuthnChallenge {
    WebAuthnChallenge {
        challenge_hash: random_hash(),
        purpose,
        expires_at: T0.plus(CEREMONY),
    }
}

/// A user with an account in the store, and no factor.
async fn signed_up(store: &dyn Store, email: &str) -> Result<UserRecord, crate::Failure> {
    let u = user(email);
    store.create_user(&u, &session_of(&u)).await?;
    Ok(u)
}

/// The user's factor summary as stored.
async fn summary(store: &dyn Store, user: &UserRecord) -> Result<FactorSummary, crate::Failure> {
    Ok(store.user_by_id(&user.id).await?.found()?.factors)
}

/// Code hashes in a fixed order: a store need not keep the set's order.
fn sorted(hashes: &[TokenHash]) -> Vec<String> {
    let mut hex: Vec<String> = hashes.iter().map(TokenHash::to_hex).collect();
    hex.sort();
    hex
}

/// Recovery codes compared as sets.
fn same_codes(a: &RecoveryCodes, b: &RecoveryCodes) -> bool {
    a.user_id == b.user_id
        && a.created_at == b.created_at
        && sorted(&a.code_hashes) == sorted(&b.code_hashes)
}

/// TOTP turned on for `user` through a confirmed enrolment.
async fn with_totp(
    store: &dyn Store,
    user: &UserRecord,
) -> Result<(TotpFactor, RecoveryCodes), crate::Failure> {
    let enrolment = totp_enrolment(user);
    store.put_totp_enrolment(&enrolment).await?;
    let (factor, codes) = (totp_factor(user), recovery_codes(user));
    check!(store.confirm_totp(&enrolment, &factor, &codes, T0).await?);
    Ok((factor, codes))
}

pub async fn a_totp_enrolment_reads_back_until_it_lapses_and_a_new_one_replaces_it(
    store: Arc<dyn Store>,
) -> Outcome {
    let ada = signed_up(&*store, "ada@example.com").await?;
    let grace = signed_up(&*store, "grace@example.com").await?;
    check_eq!(store.totp_enrolment(&ada.id, T0).await?, None);
    let first = totp_enrolment(&ada);
    store.put_totp_enrolment(&first).await?;
    let graces = totp_enrolment(&grace);
    store.put_totp_enrolment(&graces).await?;
    check_eq!(
        store.totp_enrolment(&ada.id, T0).await?,
        Some(first.clone())
    );
    check_eq!(
        store
            .totp_enrolment(&ada.id, before(first.expires_at))
            .await?,
        Some(first.clone())
    );
    check_eq!(store.totp_enrolment(&ada.id, first.expires_at).await?, None);

    let second = TotpEnrolment {
        expires_at: T0.plus(2 * ENROLMENT),
        ..totp_enrolment(&ada)
    };
    store.put_totp_enrolment(&second).await?;
    check_eq!(
        store.totp_enrolment(&ada.id, T0).await?,
        Some(second.clone())
    );
    // The replaced enrolment cannot be confirmed, though it has not lapsed.
    check!(
        !store
            .confirm_totp(&first, &totp_factor(&ada), &recovery_codes(&ada), T0)
            .await?
    );
    check_eq!(store.totp_factor(&ada.id).await?, None);
    check_eq!(store.recovery_codes(&ada.id).await?, None);
    check_eq!(summary(&*store, &ada).await?, FactorSummary::default());
    check_eq!(store.totp_enrolment(&ada.id, T0).await?, Some(second));
    check_eq!(store.totp_enrolment(&grace.id, T0).await?, Some(graces));
    Ok(())
}

pub async fn confirming_totp_takes_the_enrolment_and_stores_the_factor_codes_and_summary(
    store: Arc<dyn Store>,
) -> Outcome {
    let ada = signed_up(&*store, "ada@example.com").await?;
    let enrolment = totp_enrolment(&ada);
    store.put_totp_enrolment(&enrolment).await?;
    let (factor, codes) = (totp_factor(&ada), recovery_codes(&ada));
    // At its end the enrolment is gone: nothing is written.
    check!(
        !store
            .confirm_totp(&enrolment, &factor, &codes, enrolment.expires_at)
            .await?
    );
    check_eq!(store.totp_factor(&ada.id).await?, None);
    check!(
        store
            .confirm_totp(&enrolment, &factor, &codes, before(enrolment.expires_at))
            .await?
    );
    check_eq!(store.totp_factor(&ada.id).await?, Some(factor.clone()));
    check!(same_codes(
        &store.recovery_codes(&ada.id).await?.found()?,
        &codes
    ));
    check_eq!(store.totp_enrolment(&ada.id, T0).await?, None, "taken");
    check_eq!(
        summary(&*store, &ada).await?,
        FactorSummary {
            totp: true,
            passkeys: 0
        }
    );
    // TOTP is on: a second enrolment cannot be confirmed over it.
    let again = totp_enrolment(&ada);
    store.put_totp_enrolment(&again).await?;
    check!(
        !store
            .confirm_totp(&again, &totp_factor(&ada), &recovery_codes(&ada), T0)
            .await?
    );
    check_eq!(store.totp_factor(&ada.id).await?, Some(factor));
    check!(same_codes(
        &store.recovery_codes(&ada.id).await?.found()?,
        &codes
    ));
    check_eq!(store.totp_enrolment(&ada.id, T0).await?, Some(again));

    // A user who is gone gets nothing, whatever enrolment is left.
    let ghost = user("ghost@example.com");
    let haunting = totp_enrolment(&ghost);
    store.put_totp_enrolment(&haunting).await?;
    check!(
        !store
            .confirm_totp(&haunting, &totp_factor(&ghost), &recovery_codes(&ghost), T0)
            .await?
    );
    check_eq!(store.totp_factor(&ghost.id).await?, None);
    check_eq!(store.recovery_codes(&ghost.id).await?, None);
    Ok(())
}

pub async fn exactly_one_of_concurrent_totp_confirmations_wins(store: Arc<dyn Store>) -> Outcome {
    let ada = signed_up(&*store, "ada@example.com").await?;
    let enrolment = totp_enrolment(&ada);
    store.put_totp_enrolment(&enrolment).await?;
    let tries: Vec<(TotpFactor, RecoveryCodes)> = (0..4)
        .map(|_| (totp_factor(&ada), recovery_codes(&ada)))
        .collect();
    let confirmed = concurrently(tries.iter().cloned().map(|(factor, codes)| {
        let (store, enrolment) = (Arc::clone(&store), enrolment.clone());
        async move { store.confirm_totp(&enrolment, &factor, &codes, T0).await }
    }))
    .await?;
    check_eq!(confirmed.iter().filter(|c| **c).count(), 1, "{confirmed:?}");
    let winner = confirmed.iter().position(|c| *c).found()?;
    check_eq!(
        store.totp_factor(&ada.id).await?,
        Some(tries[winner].0.clone())
    );
    check!(same_codes(
        &store.recovery_codes(&ada.id).await?.found()?,
        &tries[winner].1
    ));
    check_eq!(summary(&*store, &ada).await?.totp, true);
    Ok(())
}

pub async fn a_totp_step_is_accepted_once_and_never_after_a_newer_one(
    store: Arc<dyn Store>,
) -> Outcome {
    let ada = signed_up(&*store, "ada@example.com").await?;
    // No factor, no step.
    check!(!store.accept_totp_step(&ada.id, 100, T0).await?);
    let (factor, _) = with_totp(&*store, &ada).await?;
    let later = T0.plus(Duration::from_secs(90));
    check!(store.accept_totp_step(&ada.id, 100, later).await?);
    check_eq!(
        store.totp_factor(&ada.id).await?,
        Some(TotpFactor {
            last_step: Some(100),
            last_used_at: Some(later),
            ..factor.clone()
        })
    );
    check!(
        !store.accept_totp_step(&ada.id, 100, later).await?,
        "replayed"
    );
    check!(!store.accept_totp_step(&ada.id, 99, later).await?, "older");
    let latest = later.plus(Duration::from_secs(30));
    check!(store.accept_totp_step(&ada.id, 101, latest).await?);
    check_eq!(
        store.totp_factor(&ada.id).await?,
        Some(TotpFactor {
            last_step: Some(101),
            last_used_at: Some(latest),
            ..factor
        })
    );

    // One code sent twice at once: one request gets it.
    let accepted = concurrently((0..4).map(|_| {
        let (store, id) = (Arc::clone(&store), ada.id.clone());
        async move { store.accept_totp_step(&id, 102, latest).await }
    }))
    .await?;
    check_eq!(accepted.iter().filter(|a| **a).count(), 1, "{accepted:?}");
    check_eq!(
        store.totp_factor(&ada.id).await?.found()?.last_step,
        Some(102)
    );
    Ok(())
}

pub async fn removing_totp_clears_the_summary_and_leaves_the_recovery_codes(
    store: Arc<dyn Store>,
) -> Outcome {
    let ada = signed_up(&*store, "ada@example.com").await?;
    check!(!store.remove_totp(&ada.id).await?, "off already");
    let (_, codes) = with_totp(&*store, &ada).await?;
    check!(store.remove_totp(&ada.id).await?);
    check_eq!(store.totp_factor(&ada.id).await?, None);
    check_eq!(summary(&*store, &ada).await?, FactorSummary::default());
    check!(same_codes(
        &store.recovery_codes(&ada.id).await?.found()?,
        &codes
    ));
    check!(!store.remove_totp(&ada.id).await?, "off again");
    check!(!store.accept_totp_step(&ada.id, 1, T0).await?);
    // It can be turned on again.
    with_totp(&*store, &ada).await?;
    check_eq!(summary(&*store, &ada).await?.totp, true);
    Ok(())
}

pub async fn recovery_codes_are_replaced_whole_and_each_is_taken_once(
    store: Arc<dyn Store>,
) -> Outcome {
    let ada = signed_up(&*store, "ada@example.com").await?;
    let grace = signed_up(&*store, "grace@example.com").await?;
    check_eq!(store.recovery_codes(&ada.id).await?, None);
    let first = recovery_codes(&ada);
    store.replace_recovery_codes(&first).await?;
    let graces = recovery_codes(&grace);
    store.replace_recovery_codes(&graces).await?;
    check!(same_codes(
        &store.recovery_codes(&ada.id).await?.found()?,
        &first
    ));

    check!(
        store
            .take_recovery_code(&ada.id, &first.code_hashes[3])
            .await?
    );
    check!(
        !store
            .take_recovery_code(&ada.id, &first.code_hashes[3])
            .await?,
        "used"
    );
    // Another user's code is not this user's.
    check!(
        !store
            .take_recovery_code(&ada.id, &graces.code_hashes[0])
            .await?
    );
    check!(!store.take_recovery_code(&ada.id, &random_hash()).await?);
    let left = RecoveryCodes {
        code_hashes: first
            .code_hashes
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 3)
            .map(|(_, h)| *h)
            .collect(),
        ..first.clone()
    };
    check!(same_codes(
        &store.recovery_codes(&ada.id).await?.found()?,
        &left
    ));

    let second = RecoveryCodes {
        created_at: T0.plus(Duration::from_secs(60)),
        ..recovery_codes(&ada)
    };
    store.replace_recovery_codes(&second).await?;
    check!(same_codes(
        &store.recovery_codes(&ada.id).await?.found()?,
        &second
    ));
    check!(
        !store
            .take_recovery_code(&ada.id, &first.code_hashes[0])
            .await?,
        "the old set stopped working"
    );

    // Every code used: the set is there, empty.
    for hash in &second.code_hashes {
        check!(store.take_recovery_code(&ada.id, hash).await?);
    }
    let empty = store.recovery_codes(&ada.id).await?.found()?;
    check!(empty.code_hashes.is_empty(), "{empty:?}");
    check_eq!(empty.created_at, second.created_at);

    store.delete_recovery_codes(&ada.id).await?;
    check_eq!(store.recovery_codes(&ada.id).await?, None);
    store.delete_recovery_codes(&ada.id).await?;
    check!(same_codes(
        &store.recovery_codes(&grace.id).await?.found()?,
        &graces
    ));
    Ok(())
}

pub async fn exactly_one_of_concurrent_takers_gets_a_recovery_code(
    store: Arc<dyn Store>,
) -> Outcome {
    let ada = signed_up(&*store, "ada@example.com").await?;
    let codes = recovery_codes(&ada);
    store.replace_recovery_codes(&codes).await?;
    let code = codes.code_hashes[0];
    let taken = concurrently((0..6).map(|_| {
        let (store, id) = (Arc::clone(&store), ada.id.clone());
        async move { store.take_recovery_code(&id, &code).await }
    }))
    .await?;
    check_eq!(taken.iter().filter(|t| **t).count(), 1, "{taken:?}");
    check_eq!(
        store
            .recovery_codes(&ada.id)
            .await?
            .found()?
            .code_hashes
            .len(),
        9
    );
    Ok(())
}

pub async fn a_passkey_reads_back_with_every_field_and_is_counted_on_its_user(
    store: Arc<dyn Store>,
) -> Outcome {
    let ada = signed_up(&*store, "ada@example.com").await?;
    let grace = signed_up(&*store, "grace@example.com").await?;
    check_eq!(store.passkeys_of(&ada.id).await?, vec![]);
    let older = Passkey {
        transports: vec![],
        backup_eligible: false,
        last_used_at: Some(T0.plus(Duration::from_secs(5))),
        ..passkey(&ada, b"ada-key-1")
    };
    let newer = Passkey {
        created_at: T0.plus(Duration::from_secs(10)),
        backed_up: true,
        // The longest id WebAuthn allows.
        credential_id: CredentialId::new(vec![0xfe; CredentialId::MAX_LEN]).unwrap(),
        ..passkey(&ada, b"unused")
    };
    // Registered newest first; listed oldest first.
    check_eq!(
        store.add_passkey(&newer, None).await?,
        PasskeyInsert::Inserted
    );
    check_eq!(
        store.add_passkey(&older, None).await?,
        PasskeyInsert::Inserted
    );
    let graces = passkey(&grace, b"grace-key");
    check_eq!(
        store.add_passkey(&graces, None).await?,
        PasskeyInsert::Inserted
    );

    check_eq!(
        store.passkey_by_credential(&older.credential_id).await?,
        Some(older.clone())
    );
    check_eq!(
        store.passkey_by_credential(&newer.credential_id).await?,
        Some(newer.clone())
    );
    check_eq!(
        store
            .passkey_by_credential(&CredentialId::new(b"nobody's".to_vec()).unwrap())
            .await?,
        None
    );
    check_eq!(store.passkeys_of(&ada.id).await?, vec![older, newer]);
    check_eq!(store.passkeys_of(&grace.id).await?, vec![graces]);
    check_eq!(
        summary(&*store, &ada).await?,
        FactorSummary {
            totp: false,
            passkeys: 2
        }
    );
    // No codes were given: none are stored.
    check_eq!(store.recovery_codes(&ada.id).await?, None);
    Ok(())
}

pub async fn a_first_passkey_stores_its_codes_only_while_the_account_has_no_factor(
    store: Arc<dyn Store>,
) -> Outcome {
    let ada = signed_up(&*store, "ada@example.com").await?;
    let first = passkey(&ada, b"first");
    let codes = recovery_codes(&ada);
    check_eq!(
        store.add_passkey(&first, Some(&codes)).await?,
        PasskeyInsert::Inserted
    );
    check!(same_codes(
        &store.recovery_codes(&ada.id).await?.found()?,
        &codes
    ));

    // A second "first" passkey (the account got one meanwhile): nothing written.
    let second = passkey(&ada, b"second");
    check_eq!(
        store
            .add_passkey(&second, Some(&recovery_codes(&ada)))
            .await?,
        PasskeyInsert::FactorsChanged
    );
    check_eq!(
        store.passkey_by_credential(&second.credential_id).await?,
        None
    );
    check!(same_codes(
        &store.recovery_codes(&ada.id).await?.found()?,
        &codes
    ));
    check_eq!(summary(&*store, &ada).await?.passkeys, 1);

    // TOTP on counts as a factor too.
    let grace = signed_up(&*store, "grace@example.com").await?;
    let (_, totp_codes) = with_totp(&*store, &grace).await?;
    let graces = passkey(&grace, b"grace");
    check_eq!(
        store
            .add_passkey(&graces, Some(&recovery_codes(&grace)))
            .await?,
        PasskeyInsert::FactorsChanged
    );
    check_eq!(
        store.passkey_by_credential(&graces.credential_id).await?,
        None
    );
    check!(same_codes(
        &store.recovery_codes(&grace.id).await?.found()?,
        &totp_codes
    ));
    check_eq!(
        summary(&*store, &grace).await?,
        FactorSummary {
            totp: true,
            passkeys: 0
        }
    );
    // Without codes it is added.
    check_eq!(
        store.add_passkey(&graces, None).await?,
        PasskeyInsert::Inserted
    );
    check_eq!(
        summary(&*store, &grace).await?,
        FactorSummary {
            totp: true,
            passkeys: 1
        }
    );

    // A user who is gone gets none, with codes or without.
    let ghost = user("ghost@example.com");
    for codes in [None, Some(recovery_codes(&ghost))] {
        let haunting = passkey(&ghost, b"ghost");
        check_eq!(
            store.add_passkey(&haunting, codes.as_ref()).await?,
            PasskeyInsert::FactorsChanged
        );
        check_eq!(
            store.passkey_by_credential(&haunting.credential_id).await?,
            None
        );
    }
    check_eq!(store.recovery_codes(&ghost.id).await?, None);
    Ok(())
}

pub async fn a_credential_id_is_registered_once_across_all_accounts(
    store: Arc<dyn Store>,
) -> Outcome {
    let ada = signed_up(&*store, "ada@example.com").await?;
    let grace = signed_up(&*store, "grace@example.com").await?;
    let adas = passkey(&ada, b"shared");
    check_eq!(
        store.add_passkey(&adas, None).await?,
        PasskeyInsert::Inserted
    );
    for again in [passkey(&ada, b"shared"), passkey(&grace, b"shared")] {
        check_eq!(
            store.add_passkey(&again, None).await?,
            PasskeyInsert::CredentialTaken
        );
    }
    // Taken is the answer whatever else is wrong: with first codes for an account that has a
    // factor, or for a user who is gone.
    check_eq!(
        store
            .add_passkey(&passkey(&ada, b"shared"), Some(&recovery_codes(&ada)))
            .await?,
        PasskeyInsert::CredentialTaken
    );
    check_eq!(
        store
            .add_passkey(&passkey(&user("ghost@example.com"), b"shared"), None)
            .await?,
        PasskeyInsert::CredentialTaken
    );
    check_eq!(store.recovery_codes(&ada.id).await?, None);
    check_eq!(
        store.passkey_by_credential(&adas.credential_id).await?,
        Some(adas)
    );
    check_eq!(summary(&*store, &ada).await?.passkeys, 1);
    check_eq!(summary(&*store, &grace).await?.passkeys, 0);

    // Two accounts racing with one new credential id: one gets it.
    let racers = [passkey(&ada, b"contested"), passkey(&grace, b"contested")];
    let added = concurrently(racers.iter().cloned().map(|p| {
        let store = Arc::clone(&store);
        async move { store.add_passkey(&p, None).await }
    }))
    .await?;
    check_eq!(
        added
            .iter()
            .filter(|a| **a == PasskeyInsert::Inserted)
            .count(),
        1,
        "{added:?}"
    );
    check!(added.contains(&PasskeyInsert::CredentialTaken), "{added:?}");
    let winner = &racers[added
        .iter()
        .position(|a| *a == PasskeyInsert::Inserted)
        .found()?];
    check_eq!(
        store
            .passkey_by_credential(&winner.credential_id)
            .await?
            .as_ref(),
        Some(winner)
    );
    let counts = (
        summary(&*store, &ada).await?.passkeys,
        summary(&*store, &grace).await?.passkeys,
    );
    check_eq!(
        counts,
        if winner.user_id == ada.id {
            (2, 0)
        } else {
            (1, 1)
        }
    );
    Ok(())
}

pub async fn using_a_passkey_is_compare_and_set_on_its_sign_count(
    store: Arc<dyn Store>,
) -> Outcome {
    let ada = signed_up(&*store, "ada@example.com").await?;
    let key = passkey(&ada, b"counted");
    store.add_passkey(&key, None).await?;
    let later = T0.plus(Duration::from_secs(60));
    check!(
        !store
            .use_passkey(
                &ada.id,
                &key.id,
                key.sign_count + 1,
                key.sign_count + 2,
                true,
                later
            )
            .await?,
        "a count it does not have"
    );
    let grace = signed_up(&*store, "grace@example.com").await?;
    check!(
        !store
            .use_passkey(&grace.id, &key.id, key.sign_count, 8, true, later)
            .await?,
        "another user's passkey"
    );
    check!(
        store
            .use_passkey(&ada.id, &key.id, key.sign_count, 8, true, later)
            .await?
    );
    let used = Passkey {
        sign_count: 8,
        backed_up: true,
        last_used_at: Some(later),
        ..key.clone()
    };
    check_eq!(
        store.passkey_by_credential(&key.credential_id).await?,
        Some(used.clone())
    );
    check_eq!(store.passkeys_of(&ada.id).await?, vec![used]);

    // Two assertions checked against one read: one lands.
    let latest = later.plus(Duration::from_secs(1));
    let landed = concurrently((9..13).map(|new_count| {
        let (store, user_id, id) = (Arc::clone(&store), ada.id.clone(), key.id.clone());
        async move {
            store
                .use_passkey(&user_id, &id, 8, new_count, false, latest)
                .await
        }
    }))
    .await?;
    check_eq!(landed.iter().filter(|l| **l).count(), 1, "{landed:?}");
    let winner = 9 + u32::try_from(landed.iter().position(|l| *l).found()?).unwrap();
    let stored = store
        .passkey_by_credential(&key.credential_id)
        .await?
        .found()?;
    check_eq!(
        (stored.sign_count, stored.backed_up, stored.last_used_at),
        (winner, false, Some(latest))
    );
    // An authenticator without a counter: 0 stays 0.
    let counterless = Passkey {
        sign_count: 0,
        ..passkey(&ada, b"counterless")
    };
    store.add_passkey(&counterless, None).await?;
    for _ in 0..2 {
        check!(
            store
                .use_passkey(&ada.id, &counterless.id, 0, 0, false, latest)
                .await?
        );
    }
    Ok(())
}

pub async fn renaming_and_removing_a_passkey_keep_the_summary_and_free_its_credential_id(
    store: Arc<dyn Store>,
) -> Outcome {
    let ada = signed_up(&*store, "ada@example.com").await?;
    let grace = signed_up(&*store, "grace@example.com").await?;
    let (kept, gone) = (passkey(&ada, b"kept"), passkey(&ada, b"gone"));
    store.add_passkey(&kept, None).await?;
    store.add_passkey(&gone, None).await?;

    check!(store.rename_passkey(&ada.id, &kept.id, "YubiKey 5").await?);
    check!(
        !store
            .rename_passkey(&grace.id, &kept.id, "Mine now")
            .await?
    );
    check!(
        !store
            .rename_passkey(&ada.id, &FactorId::generate().unwrap(), "Nothing")
            .await?
    );
    let renamed = Passkey {
        name: "YubiKey 5".into(),
        ..kept.clone()
    };
    check_eq!(
        store.passkey_by_credential(&kept.credential_id).await?,
        Some(renamed.clone())
    );

    check!(
        !store.remove_passkey(&grace.id, &gone.id).await?,
        "not hers"
    );
    check!(store.remove_passkey(&ada.id, &gone.id).await?);
    check!(
        !store.remove_passkey(&ada.id, &gone.id).await?,
        "gone already"
    );
    check_eq!(
        store.passkey_by_credential(&gone.credential_id).await?,
        None
    );
    check_eq!(store.passkeys_of(&ada.id).await?, vec![renamed]);
    check_eq!(summary(&*store, &ada).await?.passkeys, 1);
    check!(
        !store
            .use_passkey(&ada.id, &gone.id, gone.sign_count, 100, false, T0)
            .await?
    );

    // Its credential id can be registered again, by anyone.
    let reregistered = passkey(&grace, b"gone");
    check_eq!(
        store.add_passkey(&reregistered, None).await?,
        PasskeyInsert::Inserted
    );
    check_eq!(
        store.passkey_by_credential(&gone.credential_id).await?,
        Some(reregistered)
    );
    check_eq!(summary(&*store, &grace).await?.passkeys, 1);

    check!(store.remove_passkey(&ada.id, &kept.id).await?);
    check_eq!(summary(&*store, &ada).await?, FactorSummary::default());
    check_eq!(store.passkeys_of(&ada.id).await?, vec![]);
    Ok(())
}

pub async fn a_pending_sign_in_reads_back_until_it_lapses_and_is_taken_once(
    store: Arc<dyn Store>,
) -> Outcome {
    let ada = signed_up(&*store, "ada@example.com").await?;
    for first_factor in [
        FirstFactor::Password,
        FirstFactor::EmailCode,
        FirstFactor::Federated,
    ] {
        let pending = PendingSignIn {
            first_factor,
            user_epoch: 3,
            failures: 2,
            ..pending_sign_in(&ada)
        };
        store.put_pending_sign_in(&pending).await?;
        check_eq!(
            store.pending_sign_in(&pending.token_hash, T0).await?,
            Some(pending.clone())
        );
        check_eq!(
            store
                .pending_sign_in(&pending.token_hash, before(pending.expires_at))
                .await?,
            Some(pending.clone())
        );
        check_eq!(
            store
                .pending_sign_in(&pending.token_hash, pending.expires_at)
                .await?,
            None
        );
        check_eq!(
            store
                .take_pending_sign_in(&pending.token_hash, pending.expires_at)
                .await?,
            None,
            "lapsed"
        );
    }
    let pending = pending_sign_in(&ada);
    store.put_pending_sign_in(&pending).await?;
    check_eq!(
        store
            .take_pending_sign_in(&pending.token_hash, before(pending.expires_at))
            .await?,
        Some(pending.clone())
    );
    check_eq!(
        store.take_pending_sign_in(&pending.token_hash, T0).await?,
        None
    );
    check_eq!(store.pending_sign_in(&pending.token_hash, T0).await?, None);

    // One second factor sent twice at once: one session.
    let raced = pending_sign_in(&ada);
    store.put_pending_sign_in(&raced).await?;
    let taken = concurrently((0..6).map(|_| {
        let (store, hash) = (Arc::clone(&store), raced.token_hash);
        async move { store.take_pending_sign_in(&hash, T0).await }
    }))
    .await?;
    check_eq!(taken.iter().flatten().count(), 1, "{taken:?}");
    check_eq!(taken.iter().flatten().next(), Some(&raced));
    Ok(())
}

pub async fn wrong_second_factors_are_counted_and_the_last_deletes_the_pending_sign_in(
    store: Arc<dyn Store>,
) -> Outcome {
    let ada = signed_up(&*store, "ada@example.com").await?;
    let pending = pending_sign_in(&ada);
    store.put_pending_sign_in(&pending).await?;
    let other = pending_sign_in(&ada);
    store.put_pending_sign_in(&other).await?;
    for n in 1..MAX_FACTOR_FAILURES {
        check_eq!(
            store
                .count_pending_failure(&pending.token_hash, MAX_FACTOR_FAILURES, T0)
                .await?,
            Some(n)
        );
        check_eq!(
            store
                .pending_sign_in(&pending.token_hash, T0)
                .await?
                .found()?
                .failures,
            n
        );
    }
    check_eq!(
        store
            .count_pending_failure(&pending.token_hash, MAX_FACTOR_FAILURES, T0)
            .await?,
        Some(MAX_FACTOR_FAILURES)
    );
    check_eq!(store.pending_sign_in(&pending.token_hash, T0).await?, None);
    check_eq!(
        store.take_pending_sign_in(&pending.token_hash, T0).await?,
        None
    );
    check_eq!(
        store
            .count_pending_failure(&pending.token_hash, MAX_FACTOR_FAILURES, T0)
            .await?,
        None
    );
    // A lapsed one is not counted.
    check_eq!(
        store
            .count_pending_failure(&other.token_hash, MAX_FACTOR_FAILURES, other.expires_at)
            .await?,
        None
    );
    check_eq!(
        store.pending_sign_in(&other.token_hash, T0).await?,
        Some(other.clone())
    );

    // Concurrent wrong codes: each counted once, the last one deletes it.
    let counted = concurrently((0..MAX_FACTOR_FAILURES + 2).map(|_| {
        let (store, hash) = (Arc::clone(&store), other.token_hash);
        async move {
            store
                .count_pending_failure(&hash, MAX_FACTOR_FAILURES, T0)
                .await
        }
    }))
    .await?;
    let mut counts: Vec<u32> = counted.iter().flatten().copied().collect();
    counts.sort_unstable();
    check_eq!(
        counts,
        (1..=MAX_FACTOR_FAILURES).collect::<Vec<u32>>(),
        "{counted:?}"
    );
    check_eq!(store.pending_sign_in(&other.token_hash, T0).await?, None);
    Ok(())
}

pub async fn a_webauthn_challenge_answers_one_ceremony_while_live(
    store: Arc<dyn Store>,
) -> Outcome {
    let ada = signed_up(&*store, "ada@example.com").await?;
    let purposes = [
        CeremonyPurpose::Register {
            user_id: ada.id.clone(),
            user_epoch: 4,
        },
        CeremonyPurpose::SignIn,
        CeremonyPurpose::SecondFactor {
            pending: random_hash(),
        },
    ];
    for purpose in purposes {
        let live = webauthn_challenge(purpose.clone());
        let lapsed = webauthn_challenge(purpose);
        store.put_webauthn_challenge(&live).await?;
        store.put_webauthn_challenge(&lapsed).await?;
        check_eq!(
            store
                .take_webauthn_challenge(&lapsed.challenge_hash, lapsed.expires_at)
                .await?,
            None
        );
        check_eq!(
            store
                .take_webauthn_challenge(&live.challenge_hash, before(live.expires_at))
                .await?,
            Some(live.clone())
        );
        check_eq!(
            store
                .take_webauthn_challenge(&live.challenge_hash, T0)
                .await?,
            None,
            "used"
        );
    }
    check_eq!(
        store.take_webauthn_challenge(&random_hash(), T0).await?,
        None
    );

    let raced = webauthn_challenge(CeremonyPurpose::SignIn);
    store.put_webauthn_challenge(&raced).await?;
    let taken = concurrently((0..6).map(|_| {
        let (store, hash) = (Arc::clone(&store), raced.challenge_hash);
        async move { store.take_webauthn_challenge(&hash, T0).await }
    }))
    .await?;
    check_eq!(taken.iter().flatten().count(), 1, "{taken:?}");
    check_eq!(taken.iter().flatten().next(), Some(&raced));
    Ok(())
}

pub async fn sessions_keep_when_their_user_last_authenticated(store: Arc<dyn Store>) -> Outcome {
    let ada = user("ada@example.com");
    let first = SessionRecord {
        authenticated_at: T0,
        ..session_of(&ada)
    };
    store.create_user(&ada, &first).await?;
    let stepped_up = SessionRecord {
        created_at: T0,
        authenticated_at: T0.plus(Duration::from_secs(600)),
        renewed_at: T0.plus(Duration::from_secs(600)),
        ..session_of(&ada)
    };
    store.put_session(&stepped_up).await?;
    check_eq!(store.session(&first.token_hash, T0).await?, Some(first));
    check_eq!(
        store
            .session(&stepped_up.token_hash, T0.plus(Duration::from_secs(600)))
            .await?,
        Some(stepped_up)
    );
    Ok(())
}

/// Gives `user` one of every factor record (and a pending sign-in, an enrolment and a
/// registration challenge): what deleting it must remove. Returns the records to look for.
pub async fn every_factor_record_of(
    store: &dyn Store,
    user: &UserRecord,
    credential: &[u8],
) -> Result<FactorRecords, crate::Failure> {
    let (totp, codes) = with_totp(store, user).await?;
    let key = passkey(user, credential);
    check_eq!(
        store.add_passkey(&key, None).await?,
        PasskeyInsert::Inserted
    );
    let enrolment = totp_enrolment(user);
    store.put_totp_enrolment(&enrolment).await?;
    let pending = pending_sign_in(user);
    store.put_pending_sign_in(&pending).await?;
    let registration = webauthn_challenge(CeremonyPurpose::Register {
        user_id: user.id.clone(),
        user_epoch: user.session_epoch,
    });
    store.put_webauthn_challenge(&registration).await?;
    Ok(FactorRecords {
        totp,
        codes,
        passkey: key,
        enrolment,
        pending,
        registration,
    })
}

/// What [`every_factor_record_of`] wrote.
pub struct FactorRecords {
    pub totp: TotpFactor,
    pub codes: RecoveryCodes,
    pub passkey: Passkey,
    pub enrolment: TotpEnrolment,
    pub pending: PendingSignIn,
    pub registration: WebAuthnChallenge,
}

impl FactorRecords {
    /// Whether every record reads as absent (`gone`) or as written.
    pub async fn check(&self, store: &dyn Store, gone: bool) -> Outcome {
        let user_id = &self.totp.user_id;
        let expect = |present: bool| present != gone;
        check!(expect(
            store.totp_factor(user_id).await? == Some(self.totp.clone())
        ));
        check!(expect(
            store
                .recovery_codes(user_id)
                .await?
                .is_some_and(|c| same_codes(&c, &self.codes))
        ));
        check!(expect(
            store
                .passkey_by_credential(&self.passkey.credential_id)
                .await?
                == Some(self.passkey.clone())
        ));
        check!(expect(
            store.passkeys_of(user_id).await? == vec![self.passkey.clone()]
        ));
        check!(expect(
            store.totp_enrolment(user_id, T0).await? == Some(self.enrolment.clone())
        ));
        check!(expect(
            store.pending_sign_in(&self.pending.token_hash, T0).await?
                == Some(self.pending.clone())
        ));
        if gone {
            check_eq!(
                store
                    .take_webauthn_challenge(&self.registration.challenge_hash, T0)
                    .await?,
                None
            );
        }
        Ok(())
    }
}
