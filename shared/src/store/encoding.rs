//! Encodings the DynamoDB and Cloudflare stores share, so a record kind is spelled one way
//! whichever backend holds it.

use super::{DeviceStatus, StoreError, StoreResult};
use crate::token::UserId;

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
}
