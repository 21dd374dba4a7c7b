//! Encodings the DynamoDB and Cloudflare stores share, so a record kind is spelled one way
//! whichever backend holds it.

use super::{CeremonyPurpose, DeviceStatus, FirstFactor, StoreError, StoreResult};
use crate::token::{TokenHash, UserId};

const PENDING: &str = "pending";
const APPROVED: &str = "approved";
const DENIED: &str = "denied";
const CONSUMED: &str = "consumed";

impl DeviceStatus {
    /// The stored name of [`DeviceStatus::Pending`], for conditions on it.
    pub(crate) const STORED_PENDING: &'static str = PENDING;

    /// The status as stored: its name, and beside it, for an approval, the approving user and
    /// their epoch.
    pub(crate) fn to_stored(&self) -> (&'static str, Option<(&UserId, u64)>) {
        match self {
            DeviceStatus::Pending => (PENDING, None),
            DeviceStatus::Approved {
                user_id,
                user_epoch,
            } => (APPROVED, Some((user_id, *user_epoch))),
            DeviceStatus::Denied => (DENIED, None),
            DeviceStatus::Consumed => (CONSUMED, None),
        }
    }

    /// Reads a stored status back; `approval` is read only for an approved one.
    pub(crate) fn from_stored(
        name: &str,
        approval: impl FnOnce() -> StoreResult<(UserId, u64)>,
    ) -> StoreResult<DeviceStatus> {
        match name {
            PENDING => Ok(DeviceStatus::Pending),
            APPROVED => approval().map(|(user_id, user_epoch)| DeviceStatus::Approved {
                user_id,
                user_epoch,
            }),
            DENIED => Ok(DeviceStatus::Denied),
            CONSUMED => Ok(DeviceStatus::Consumed),
            _ => Err(StoreError::Corrupt(
                "device authorization status is unknown".into(),
            )),
        }
    }
}

const PASSWORD: &str = "password";
const EMAIL_CODE: &str = "email_code";
const FEDERATED: &str = "federated";

impl FirstFactor {
    /// The first factor as stored.
    pub(crate) fn to_stored(self) -> &'static str {
        match self {
            FirstFactor::Password => PASSWORD,
            FirstFactor::EmailCode => EMAIL_CODE,
            FirstFactor::Federated => FEDERATED,
        }
    }

    /// Reads a stored first factor back.
    pub(crate) fn from_stored(name: &str) -> StoreResult<FirstFactor> {
        match name {
            PASSWORD => Ok(FirstFactor::Password),
            EMAIL_CODE => Ok(FirstFactor::EmailCode),
            FEDERATED => Ok(FirstFactor::Federated),
            _ => Err(StoreError::Corrupt(
                "pending sign-in first factor is unknown".into(),
            )),
        }
    }
}

const REGISTER: &str = "register";
const SIGN_IN: &str = "sign_in";
const SECOND_FACTOR: &str = "second_factor";

/// A ceremony purpose as stored: its name, the registering user and their epoch (registration
/// only), and the pending sign-in's token hash (second factor only).
pub(crate) struct StoredPurpose<'a> {
    pub(crate) name: &'static str,
    pub(crate) registrant: Option<(&'a UserId, u64)>,
    pub(crate) pending: Option<&'a TokenHash>,
}

impl CeremonyPurpose {
    /// The purpose as stored.
    pub(crate) fn to_stored(&self) -> StoredPurpose<'_> {
        match self {
            CeremonyPurpose::Register {
                user_id,
                user_epoch,
            } => StoredPurpose {
                name: REGISTER,
                registrant: Some((user_id, *user_epoch)),
                pending: None,
            },
            CeremonyPurpose::SignIn => StoredPurpose {
                name: SIGN_IN,
                registrant: None,
                pending: None,
            },
            CeremonyPurpose::SecondFactor { pending } => StoredPurpose {
                name: SECOND_FACTOR,
                registrant: None,
                pending: Some(pending),
            },
        }
    }

    /// Reads a stored purpose back; `registrant` is read only for a registration, `pending`
    /// only for a second factor.
    pub(crate) fn from_stored(
        name: &str,
        registrant: impl FnOnce() -> StoreResult<(UserId, u64)>,
        pending: impl FnOnce() -> StoreResult<TokenHash>,
    ) -> StoreResult<CeremonyPurpose> {
        match name {
            REGISTER => registrant().map(|(user_id, user_epoch)| CeremonyPurpose::Register {
                user_id,
                user_epoch,
            }),
            SIGN_IN => Ok(CeremonyPurpose::SignIn),
            SECOND_FACTOR => pending().map(|pending| CeremonyPurpose::SecondFactor { pending }),
            _ => Err(StoreError::Corrupt(
                "WebAuthn challenge purpose is unknown".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_device_status_reads_back_as_written() {
        let approver = UserId::from_stored("u1".into());
        let statuses = [
            DeviceStatus::Pending,
            DeviceStatus::Approved {
                user_id: approver.clone(),
                user_epoch: 7,
            },
            DeviceStatus::Denied,
            DeviceStatus::Consumed,
        ];
        for status in statuses {
            let (name, approval) = status.to_stored();
            let approval = approval.map(|(id, epoch)| (id.clone(), epoch));
            let read = DeviceStatus::from_stored(name, || {
                approval.ok_or(StoreError::Corrupt("no approval".into()))
            });
            assert_eq!(read.unwrap(), status);
        }
        assert!(matches!(
            DeviceStatus::from_stored("Approved", || unreachable!()),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn every_first_factor_and_ceremony_purpose_reads_back_as_written() {
        for factor in [
            FirstFactor::Password,
            FirstFactor::EmailCode,
            FirstFactor::Federated,
        ] {
            assert_eq!(
                FirstFactor::from_stored(factor.to_stored()).unwrap(),
                factor
            );
        }
        assert!(FirstFactor::from_stored("Password").is_err());
        let purposes = [
            CeremonyPurpose::Register {
                user_id: UserId::from_stored("u1".into()),
                user_epoch: 3,
            },
            CeremonyPurpose::SignIn,
            CeremonyPurpose::SecondFactor {
                pending: TokenHash::of(b"pending"),
            },
        ];
        for purpose in purposes {
            let stored = purpose.to_stored();
            let registrant = stored.registrant.map(|(id, epoch)| (id.clone(), epoch));
            let pending = stored.pending.copied();
            let read = CeremonyPurpose::from_stored(
                stored.name,
                || registrant.ok_or(StoreError::Corrupt("no registrant".into())),
                || pending.ok_or(StoreError::Corrupt("no pending".into())),
            );
            assert_eq!(read.unwrap(), purpose);
        }
        assert!(
            CeremonyPurpose::from_stored("signin", || unreachable!(), || unreachable!()).is_err()
        );
    }
}
