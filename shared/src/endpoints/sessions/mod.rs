//! A user's own sessions and security activity: `GET /auth/sessions` lists the sessions that
//! are signed in to the account, `POST /auth/sessions/{id}/revoke` ends one of them, and
//! `GET /auth/activity` pages through the account's recent security events.
//!
//! Each answers only about the signed-in user (cookie or Bearer session token): an id that is
//! not one of the caller's live sessions is 404 whether or not it exists for someone else.

pub mod activity;
mod cursor;
pub mod list;
pub mod revoke;
