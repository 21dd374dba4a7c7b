//! `authfn-dev`: every authfn endpoint in one local process, at its real path, plus a demo
//! page at `/`. For development only: it fills in insecure defaults when settings are missing.

mod args;
mod config;
mod docs;
mod mailbox;
mod server;
mod store;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use authfn::App;

use crate::args::Command;
use crate::store::DynamoTarget;

type BoxError = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> ExitCode {
    let env = |name: &str| std::env::var(name).ok();
    let command = match args::parse(std::env::args().skip(1), env("AUTHFN_DEV_ADDR")) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("authfn-dev: {e}\n\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    let result = match command {
        Command::Help => {
            print!("{}", args::USAGE);
            Ok(())
        }
        Command::ListEndpoints => {
            print!("{}", args::endpoint_list());
            Ok(())
        }
        Command::CreateTableOnly => create_table_only().await,
        Command::Serve { addr } => serve(addr).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("authfn-dev: {}", authfn::error::chain(&*e));
            ExitCode::FAILURE
        }
    }
}

/// For scripts that run the real Lambda functions, which expect the table to exist.
async fn create_table_only() -> Result<(), BoxError> {
    let target = DynamoTarget::from_lookup(|n| std::env::var(n).ok())
        .ok_or("--create-table-only needs AUTHFN_DYNAMODB_ENDPOINT")?;
    target.open().await?;
    println!(
        "authfn-dev: table {:?} is ready at {}",
        target.table, target.endpoint
    );
    Ok(())
}

async fn serve(addr: SocketAddr) -> Result<(), BoxError> {
    let lookup = |n: &str| std::env::var(n).ok();
    let (config, applied) = config::load(lookup, addr.port())?;
    for default in applied {
        println!("authfn-dev: {} unset, using {}", default.var, default.note);
    }
    let (store, described) = store::open(DynamoTarget::from_lookup(lookup).as_ref()).await?;
    println!("authfn-dev: store: {described}");
    let client = authfn::federation::outbound::NativeHttpClient::new();
    let mailbox = Arc::new(mailbox::Mailbox::new());
    let app = Arc::new(
        App::new(config, store)?
            .with_http_client(Arc::new(client))
            .with_mailer(mailbox.clone()),
    );

    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    println!("authfn-dev: listening on http://{bound}/ (Ctrl-C to stop)");
    println!("authfn-dev: the API's documentation is at http://{bound}/docs");
    let log = server::LogFormat::from_setting(std::env::var("AUTHFN_DEV_LOG").ok().as_deref());
    axum::serve(
        listener,
        server::router(app, log, mailbox).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    println!("authfn-dev: stopped");
    Ok(())
}

/// Ctrl-C in a terminal, SIGTERM from a script or container runtime: either lets in-flight
/// requests finish before the process exits.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    println!("authfn-dev: shutting down");
}
