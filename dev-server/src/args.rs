//! The command line. Three flags do not justify an argument-parsing dependency.

use std::net::SocketAddr;

pub(crate) const USAGE: &str = "\
usage: authfn-dev [--addr HOST:PORT] [--create-table-only] [--list-endpoints]

  --addr HOST:PORT      where to listen (env AUTHFN_DEV_ADDR; default 127.0.0.1:3000)
  --create-table-only   create the DynamoDB table AUTHFN_TABLE (default \"authfn\") at
                        AUTHFN_DYNAMODB_ENDPOINT if it is missing, then exit
  --list-endpoints      print every endpoint, one a line, then exit: three fields
                        separated by one space, `<function> <methods> <path>`, e.g.
                        `federation-callback GET,POST /auth/federation/{provider}/callback`
                        (<function> is the crate functions/<function>; <methods> are
                        comma-separated; {name} in <path> stands for one segment).
                        Fields may be added at the end of a line, never in between.
";

/// What `--list-endpoints` prints, in the format USAGE documents.
pub(crate) fn endpoint_list() -> String {
    authfn::Endpoint::ALL
        .iter()
        .map(|e| {
            format!(
                "{} {} {}\n",
                e.function_name(),
                e.method_names().join(","),
                e.path()
            )
        })
        .collect()
}

const DEFAULT_ADDR: &str = "127.0.0.1:3000";

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Command {
    Serve { addr: SocketAddr },
    CreateTableOnly,
    ListEndpoints,
    Help,
}

/// Parses the arguments after the program name; `env_addr` is `AUTHFN_DEV_ADDR`, which the
/// `--addr` flag overrides.
pub(crate) fn parse(
    args: impl IntoIterator<Item = String>,
    env_addr: Option<String>,
) -> Result<Command, String> {
    let mut addr = env_addr.filter(|a| !a.trim().is_empty());
    let mut create_table_only = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--create-table-only" => create_table_only = true,
            "--list-endpoints" => return Ok(Command::ListEndpoints),
            "--addr" => {
                addr = Some(
                    args.next()
                        .ok_or("--addr needs a value, like 127.0.0.1:3000")?,
                )
            }
            other => match other.strip_prefix("--addr=") {
                Some(value) => addr = Some(value.to_owned()),
                None => return Err(format!("unknown argument {other:?}")),
            },
        }
    }
    if create_table_only {
        return Ok(Command::CreateTableOnly);
    }
    let addr = addr.as_deref().unwrap_or(DEFAULT_ADDR);
    let addr = addr
        .trim()
        .parse()
        .map_err(|_| format!("{addr:?} is not an address like 127.0.0.1:3000"))?;
    Ok(Command::Serve { addr })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str], env: Option<&str>) -> Result<Command, String> {
        parse(args.iter().map(|a| a.to_string()), env.map(str::to_owned))
    }

    fn serve(addr: &str) -> Command {
        Command::Serve {
            addr: addr.parse().unwrap(),
        }
    }

    #[test]
    fn flag_beats_env_beats_default() {
        assert_eq!(run(&[], None), Ok(serve("127.0.0.1:3000")));
        assert_eq!(
            run(&[], Some("127.0.0.1:4000")),
            Ok(serve("127.0.0.1:4000"))
        );
        assert_eq!(
            run(&["--addr", "127.0.0.1:5000"], Some("127.0.0.1:4000")),
            Ok(serve("127.0.0.1:5000"))
        );
        assert_eq!(run(&["--addr=[::1]:6000"], None), Ok(serve("[::1]:6000")));
    }

    #[test]
    fn the_endpoint_list_has_one_line_of_three_fields_per_endpoint() {
        let list = endpoint_list();
        let lines: Vec<_> = list.lines().collect();
        assert_eq!(lines.len(), authfn::Endpoint::ALL.len());
        assert!(
            lines.contains(&"sign-out-all POST /auth/sign-out/all"),
            "{list}"
        );
        assert!(
            lines.contains(&"federation-callback GET,POST /auth/federation/{provider}/callback"),
            "{list}"
        );
        assert!(lines.iter().all(|l| l.split(' ').count() == 3), "{list}");
    }

    #[test]
    fn mistakes_are_reported() {
        assert!(run(&["--addr"], None).is_err());
        assert!(run(&["--addr", "localhost"], None).is_err());
        assert!(run(&["--port", "1"], None).is_err());
        assert_eq!(
            run(&["--create-table-only"], None),
            Ok(Command::CreateTableOnly)
        );
        assert_eq!(run(&["--list-endpoints"], None), Ok(Command::ListEndpoints));
    }
}
