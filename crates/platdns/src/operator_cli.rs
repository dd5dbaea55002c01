//! `platdns operator ...`: the operator API from the command line, so scripts
//! and the README need no curl. Each command prints the created or listed
//! objects as JSON; an API error is printed as DPF's error body and the
//! command exits non-zero.

use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct OperatorArgs {
    /// The platdns HTTP address.
    #[arg(long, default_value = "http://127.0.0.1:8053", global = true)]
    api: String,
    /// File holding the operator token (else `PLATDNS_OPERATOR_TOKEN`, else
    /// `platdns-data/operator.token`).
    #[arg(long, global = true)]
    token_file: Option<PathBuf>,
    #[command(subcommand)]
    command: OperatorCommand,
}

#[derive(Subcommand)]
enum OperatorCommand {
    /// Customer accounts.
    #[command(subcommand)]
    Account(AccountCmd),
    /// Parent contracts.
    #[command(subcommand)]
    Contract(ContractCmd),
    /// Zones (managed DNS services) under a contract.
    #[command(subcommand)]
    Zone(ZoneCmd),
    /// Tenant API tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Contract QPS in use (R4.4) and restrictions (R4.1-R4.3).
    #[command(subcommand)]
    Usage(UsageCmd),
    #[command(flatten)]
    Books(crate::books_cli::BooksCommand),
}

#[derive(Subcommand)]
enum AccountCmd {
    Create { name: String },
    List,
}

#[derive(Subcommand)]
enum ContractCmd {
    Create {
        #[arg(long)]
        account: i64,
        /// basic or premium.
        #[arg(long)]
        plan: String,
        #[arg(long, default_value_t = 0)]
        extra_qps: u32,
        #[arg(long, default_value = "")]
        description: String,
    },
    List,
    Show {
        id: String,
    },
}

#[derive(Subcommand)]
enum ZoneCmd {
    Create {
        #[arg(long)]
        contract: String,
        name: String,
        /// Approve by hand (R3.1), recording this reason.
        #[arg(long)]
        approve: Option<String>,
    },
    List,
}

#[derive(Subcommand)]
enum TokenCmd {
    Create {
        #[arg(long)]
        account: i64,
        /// Comma-separated: read, write, contract.
        #[arg(long, default_value = "read")]
        scope: String,
        /// Limit to a contract, as ID:ROLE (viewer or operator); repeatable.
        #[arg(long = "contract")]
        contracts: Vec<String>,
    },
}

#[derive(Subcommand)]
enum UsageCmd {
    /// Queries per second (the last hour) or per minute (90 days) of a
    /// contract or one of its services, summed over DNS nodes.
    Series {
        contract: String,
        /// second or minute.
        #[arg(long, default_value = "second")]
        resolution: String,
        /// zone:<id> or lb_domain:<id>.
        #[arg(long)]
        service: Option<String>,
    },
    /// Every contract's restrictions, newest first.
    Restrictions,
    /// A contract's restriction policy: shown; `--set` a JSON policy (or
    /// `off`: never restricted); `--plan` back to its plan's.
    Policy {
        contract: String,
        #[arg(long, conflicts_with = "plan")]
        set: Option<String>,
        #[arg(long)]
        plan: bool,
    },
}

fn token(args: &OperatorArgs) -> Result<String, String> {
    if let Some(f) = &args.token_file {
        return std::fs::read_to_string(f)
            .map(|s| s.trim().to_string())
            .map_err(|e| format!("{}: {e}", f.display()));
    }
    if let Ok(t) = std::env::var("PLATDNS_OPERATOR_TOKEN") {
        return Ok(t);
    }
    let f = PathBuf::from("platdns-data/operator.token");
    std::fs::read_to_string(&f)
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("{}: {e} (give --token-file or PLATDNS_OPERATOR_TOKEN)", f.display()))
}

pub fn run(args: OperatorArgs) -> ExitCode {
    let token = match token(&args) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("platdns: {e}");
            return ExitCode::from(2);
        }
    };
    let (method, path, body): (&str, String, Option<Value>) = match &args.command {
        OperatorCommand::Books(b) => return crate::books_cli::run(&args.api, &token, b),
        OperatorCommand::Account(AccountCmd::Create { name }) => {
            ("POST", "/accounts".into(), Some(json!({"name": name})))
        }
        OperatorCommand::Account(AccountCmd::List) => ("GET", "/accounts".into(), None),
        OperatorCommand::Contract(ContractCmd::Create {
            account,
            plan,
            extra_qps,
            description,
        }) => (
            "POST",
            "/contracts".into(),
            Some(json!({"account_id": account, "plan": plan, "extra_qps": extra_qps, "description": description})),
        ),
        OperatorCommand::Contract(ContractCmd::List) => ("GET", "/contracts".into(), None),
        OperatorCommand::Contract(ContractCmd::Show { id }) => ("GET", format!("/contracts/{id}"), None),
        OperatorCommand::Zone(ZoneCmd::Create {
            contract,
            name,
            approve,
        }) => (
            "POST",
            "/zones".into(),
            Some(json!({"contract_id": contract, "name": name, "approve": approve})),
        ),
        OperatorCommand::Zone(ZoneCmd::List) => ("GET", "/zones".into(), None),
        OperatorCommand::Usage(UsageCmd::Series {
            contract,
            resolution,
            service,
        }) => {
            let service = service.as_deref().map(|s| format!("&service={s}")).unwrap_or_default();
            (
                "GET",
                format!("/contracts/{contract}/usage?resolution={resolution}{service}"),
                None,
            )
        }
        OperatorCommand::Usage(UsageCmd::Restrictions) => ("GET", "/restrictions".into(), None),
        OperatorCommand::Usage(UsageCmd::Policy { contract, set, plan }) => {
            let path = format!("/contracts/{contract}/restriction_policy");
            match (set, plan) {
                (_, true) => ("DELETE", path, None),
                (Some(text), _) if text == "off" => ("PUT", path, Some(json!({"policy": null}))),
                (Some(text), _) => match serde_json::from_str::<Value>(text) {
                    Ok(p) => ("PUT", path, Some(json!({"policy": p}))),
                    Err(e) => {
                        eprintln!("platdns: --set: not JSON: {e}");
                        return ExitCode::from(2);
                    }
                },
                (None, false) => ("GET", path, None),
            }
        }
        OperatorCommand::Token(TokenCmd::Create {
            account,
            scope,
            contracts,
        }) => {
            let mut cs = Vec::new();
            for c in contracts {
                let Some((id, role)) = c.split_once(':') else {
                    eprintln!("platdns: --contract {c}: expected ID:ROLE");
                    return ExitCode::from(2);
                };
                cs.push(json!({"contract_id": id, "role": role}));
            }
            let scopes: Vec<&str> = scope.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
            (
                "POST",
                "/tokens".into(),
                Some(json!({"account_id": account, "scopes": scopes, "contracts": cs})),
            )
        }
    };
    let url = format!("{}/operator/v1{path}", args.api.trim_end_matches('/'));
    let req = ureq::request(method, &url).set("Authorization", &format!("Bearer {token}"));
    let resp = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    let (ok, v): (bool, Value) = match resp {
        Ok(r) => (true, r.into_json().unwrap_or(Value::Null)),
        Err(ureq::Error::Status(_, r)) => (false, r.into_json().unwrap_or(Value::Null)),
        Err(e) => {
            eprintln!("platdns: {url}: {e}");
            return ExitCode::from(2);
        }
    };
    if ok {
        print_result(&v);
        ExitCode::SUCCESS
    } else {
        eprintln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        ExitCode::FAILURE
    }
}

/// Prints an API answer's `result` (or `results`) as indented JSON. A
/// closed stdout (`| head`) is not an error of the command: it used to
/// panic here.
pub(crate) fn print_result(v: &Value) {
    use std::io::Write;
    let out = v.get("result").or_else(|| v.get("results")).unwrap_or(v);
    let text = serde_json::to_string_pretty(out).unwrap_or_default();
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}
