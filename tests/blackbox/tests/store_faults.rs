//! A store outage, as a client sees it. The local DynamoDB API server is frozen (SIGSTOP: it
//! still accepts connections but never answers, as a partitioned or overloaded DynamoDB
//! looks from a function) and then thawed. Freezing rather than killing keeps its data, so
//! the test can show that nothing was lost.
//!
//! Needs `AUTHFN_TEST_DYNAMODB_PID`, the server's process id. `tests/run.sh` runs this file
//! against the Lambda binaries after the other suites, on its own: the outage is for
//! everyone using that server.

use std::process::Command;
use std::time::Duration;

use authfn_blackbox::{Api, Auth, Reply, unique_email};

const PASSWORD: &str = "correct horse battery";

/// The server stays frozen while this lives; dropping it (also when an assertion fails)
/// thaws it, so one failure does not take the rest of the run down with it.
struct Frozen(String);

impl Frozen {
    fn new(pid: &str) -> Frozen {
        signal("-STOP", pid);
        Frozen(pid.to_owned())
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        signal("-CONT", &self.0);
    }
}

fn signal(which: &str, pid: &str) {
    let status = Command::new("kill")
        .args([which, pid])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {which} {pid} failed");
}

#[track_caller]
fn expect_unavailable(reply: &Reply) {
    reply.expect_error(503, "store_unavailable");
    let retry: u64 = reply
        .header("retry-after")
        .expect("Retry-After on a 503")
        .parse()
        .expect("seconds");
    assert!(retry > 0);
    assert!(
        reply.set_cookies().is_empty(),
        "no cookie from a request that did not happen: {:?}",
        reply.headers
    );
}

#[tokio::test]
#[ignore = "freezes the DynamoDB API server: set AUTHFN_TEST_DYNAMODB_PID (tests/run.sh does)"]
async fn a_store_outage_answers_503_and_loses_nothing() {
    let pid =
        std::env::var("AUTHFN_TEST_DYNAMODB_PID").expect("AUTHFN_TEST_DYNAMODB_PID is required");
    let api = Api::from_env();
    let email = unique_email("outage");
    let cookie = api.signed_up(&email, PASSWORD).await;
    let newcomer = unique_email("outage-newcomer");

    {
        let _frozen = Frozen::new(&pid);
        expect_unavailable(&api.session(Auth::Cookie(&cookie)).await);
        expect_unavailable(&api.sign_in(&email, PASSWORD).await);
        expect_unavailable(&api.sign_up(&newcomer, PASSWORD).await);
        // A forged cookie is refused on its signature alone, before any store read: a 401
        // even now, not a 503.
        api.session(Auth::Cookie(&cookie.tampered()))
            .await
            .expect_error(401, "unauthenticated");
    }

    // The session from before the outage works again once the store answers; the store may
    // first have to work through the requests queued while it was frozen.
    let mut reply = api.session(Auth::Cookie(&cookie)).await;
    for _ in 0..40 {
        if reply.status != 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        reply = api.session(Auth::Cookie(&cookie)).await;
    }
    reply.expect_status(200);
    assert_eq!(reply.json()["user"]["email"], email);

    // The sign-up that timed out left nothing that blocks the address: signing up again
    // (whose challenge replaces any that landed late) makes the account.
    let again = api.sign_up(&newcomer, PASSWORD).await;
    assert_eq!(
        again.status,
        200,
        "sign-up after the outage: {}",
        again.text()
    );
    api.sign_in(&newcomer, PASSWORD).await.expect_status(200);
    api.sign_in(&email, PASSWORD).await.expect_status(200);
}
