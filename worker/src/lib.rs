//! Every authfn endpoint as one Cloudflare Worker: the same `authfn` endpoint modules the
//! Lambda function crates call, routed by path (see `wrangler.toml` for why one Worker).
#![cfg(target_arch = "wasm32")]

use worker::{Context, Env, Request, ScheduleContext, ScheduledEvent, event, web_sys};

#[event(fetch)]
async fn fetch(
    req: Request,
    env: Env,
    _ctx: Context,
) -> Result<web_sys::Response, std::convert::Infallible> {
    Ok(authfn::workers::serve(req, &env).await)
}

/// The cron trigger: D1 has no TTL, so expired counters and revocations are deleted here.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    if let Err(e) = authfn::workers::purge_expired(&env).await {
        worker::console_error!("purge: {e}");
    }
}
