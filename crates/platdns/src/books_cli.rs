//! `platdns operator ...` for the provider's books (issue 7): prices,
//! billing settings, exclusions, availability, invoices (JSON or CSV),
//! claims, billing start dates and the import of earlier contracts. Like
//! the rest of `operator_cli`, each command prints the API's result as JSON
//! (an invoice with `--csv` as CSV) and exits non-zero on an API error.

use clap::Subcommand;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum BooksCommand {
    /// Billing settings: proration, rounding, claim deadline, credit bands, probe interval.
    #[command(subcommand)]
    Settings(SettingsCmd),
    /// Price table versions (App. 2), each from its effective day.
    #[command(subcommand)]
    Prices(PricesCmd),
    /// Periods excluded from availability (R6.3).
    #[command(subcommand)]
    Exclusion(ExclusionCmd),
    /// A month's availability (R6.1), the platform's or a contract's.
    Availability {
        /// YYYY-MM.
        month: String,
        #[arg(long)]
        contract: Option<String>,
    },
    /// Invoices: compute or close a month, list, show as JSON or CSV.
    #[command(subcommand)]
    Invoice(InvoiceCmd),
    /// Service credit claims (R8.2) and their decisions.
    #[command(subcommand)]
    Claim(ClaimCmd),
    /// Set a contract's billing start date (課金開始日).
    BillingStart { contract: String, date: String },
    /// Import earlier contracts (R9.1) from a JSON file: `[{"type":
    /// "dns_outsourcing", "id", "zones": [..]}, {"type": "site_failover_option",
    /// "id", "outsourcing"}]`.
    Migrate {
        #[arg(long)]
        account: i64,
        /// YYYY-MM: billed under the new structure from this month.
        #[arg(long)]
        from_month: String,
        file: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum SettingsCmd {
    Show,
    /// Change settings: a JSON object merged into the current ones, e.g.
    /// '{"probe_interval_seconds": 30, "rounding": "down"}'.
    Set {
        json: String,
    },
}

#[derive(Subcommand)]
pub enum PricesCmd {
    List,
    /// Add a version from a JSON file (`version`, `effective_from` and the
    /// amounts in yen; see the operator OpenAPI document).
    Add {
        file: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum ExclusionCmd {
    List {
        #[arg(long)]
        month: Option<String>,
    },
    Add {
        /// RFC 3339 with an offset.
        #[arg(long)]
        from: String,
        #[arg(long)]
        until: String,
        /// maintenance, force_majeure, customer_breach or not_provider_fault.
        #[arg(long)]
        reason: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    Update {
        id: i64,
        #[arg(long)]
        from: String,
        #[arg(long)]
        until: String,
        #[arg(long)]
        reason: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    Delete {
        id: i64,
    },
}

#[derive(Subcommand)]
pub enum InvoiceCmd {
    /// Compute and store a month's invoices (refused once closed).
    Compute { month: String },
    /// Compute a finished month's invoices one last time and freeze them.
    Close { month: String },
    List {
        #[arg(long)]
        month: Option<String>,
        #[arg(long)]
        contract: Option<String>,
    },
    Show {
        contract: String,
        month: String,
        /// Print CSV instead of JSON.
        #[arg(long)]
        csv: bool,
    },
}

#[derive(Subcommand)]
pub enum ClaimCmd {
    /// Record a claim (undecided).
    File {
        #[arg(long)]
        contract: String,
        /// The zone's or LB domain's DPF id.
        #[arg(long)]
        service: String,
        /// YYYY-MM: the breach month.
        #[arg(long)]
        month: String,
        /// When the claim arrived (RFC 3339); now by default.
        #[arg(long)]
        received_at: Option<String>,
    },
    List {
        #[arg(long)]
        contract: Option<String>,
        #[arg(long)]
        month: Option<String>,
    },
    Show {
        id: String,
    },
    /// Decide it (with its contract's other undecided claims for the month).
    Decide {
        id: String,
    },
}

fn read_json(path: &PathBuf) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn query(pairs: &[(&str, &Option<String>)]) -> String {
    let q: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect();
    if q.is_empty() {
        String::new()
    } else {
        format!("?{}", q.join("&"))
    }
}

fn call(api: &str, token: &str, method: &str, path: &str, body: Option<Value>) -> Result<(bool, String), String> {
    let url = format!("{}/operator/v1{path}", api.trim_end_matches('/'));
    let req = ureq::request(method, &url).set("Authorization", &format!("Bearer {token}"));
    let resp = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    match resp {
        Ok(r) => Ok((true, r.into_string().unwrap_or_default())),
        Err(ureq::Error::Status(_, r)) => Ok((false, r.into_string().unwrap_or_default())),
        Err(e) => Err(format!("{url}: {e}")),
    }
}

pub fn run(api: &str, token: &str, cmd: &BooksCommand) -> ExitCode {
    match request(api, token, cmd) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("platdns: {e}");
            ExitCode::from(2)
        }
    }
}

fn request(api: &str, token: &str, cmd: &BooksCommand) -> Result<ExitCode, String> {
    let exclusion = |from: &str, until: &str, reason: &str, note: &str| json!({"from": from, "until": until, "reason": reason, "note": note});
    let mut csv = false;
    let (method, path, body): (&str, String, Option<Value>) = match cmd {
        BooksCommand::Settings(SettingsCmd::Show) => ("GET", "/billing/settings".into(), None),
        BooksCommand::Settings(SettingsCmd::Set { json: change }) => {
            let change: Value = serde_json::from_str(change).map_err(|e| format!("settings: {e}"))?;
            let (ok, text) = call(api, token, "GET", "/billing/settings", None)?;
            if !ok {
                eprintln!("{text}");
                return Ok(ExitCode::FAILURE);
            }
            let mut current: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            let mut merged = current["result"].take();
            for (k, v) in change.as_object().ok_or("settings: a JSON object")? {
                merged[k] = v.clone();
            }
            ("PUT", "/billing/settings".into(), Some(merged))
        }
        BooksCommand::Prices(PricesCmd::List) => ("GET", "/prices".into(), None),
        BooksCommand::Prices(PricesCmd::Add { file }) => ("POST", "/prices".into(), Some(read_json(file)?)),
        BooksCommand::Exclusion(ExclusionCmd::List { month }) => {
            ("GET", format!("/exclusions{}", query(&[("month", month)])), None)
        }
        BooksCommand::Exclusion(ExclusionCmd::Add {
            from,
            until,
            reason,
            note,
        }) => ("POST", "/exclusions".into(), Some(exclusion(from, until, reason, note))),
        BooksCommand::Exclusion(ExclusionCmd::Update {
            id,
            from,
            until,
            reason,
            note,
        }) => (
            "PUT",
            format!("/exclusions/{id}"),
            Some(exclusion(from, until, reason, note)),
        ),
        BooksCommand::Exclusion(ExclusionCmd::Delete { id }) => ("DELETE", format!("/exclusions/{id}"), None),
        BooksCommand::Availability { month, contract } => match contract {
            Some(c) => ("GET", format!("/contracts/{c}/availability/{month}"), None),
            None => ("GET", format!("/availability/{month}"), None),
        },
        BooksCommand::Invoice(InvoiceCmd::Compute { month }) => ("POST", format!("/invoices/{month}/compute"), None),
        BooksCommand::Invoice(InvoiceCmd::Close { month }) => ("POST", format!("/invoices/{month}/close"), None),
        BooksCommand::Invoice(InvoiceCmd::List { month, contract }) => (
            "GET",
            format!("/invoices{}", query(&[("month", month), ("contract_id", contract)])),
            None,
        ),
        BooksCommand::Invoice(InvoiceCmd::Show {
            contract,
            month,
            csv: as_csv,
        }) => {
            csv = *as_csv;
            let suffix = if csv { "/csv" } else { "" };
            ("GET", format!("/contracts/{contract}/invoices/{month}{suffix}"), None)
        }
        BooksCommand::Claim(ClaimCmd::File {
            contract,
            service,
            month,
            received_at,
        }) => {
            let mut b = json!({"contract_id": contract, "service": service, "breach_month": month});
            if let Some(t) = received_at {
                b["received_at"] = json!(t);
            }
            ("POST", "/claims".into(), Some(b))
        }
        BooksCommand::Claim(ClaimCmd::List { contract, month }) => (
            "GET",
            format!("/claims{}", query(&[("contract_id", contract), ("month", month)])),
            None,
        ),
        BooksCommand::Claim(ClaimCmd::Show { id }) => ("GET", format!("/claims/{id}"), None),
        BooksCommand::Claim(ClaimCmd::Decide { id }) => ("POST", format!("/claims/{id}/decision"), None),
        BooksCommand::BillingStart { contract, date } => (
            "PUT",
            format!("/contracts/{contract}/billing_start"),
            Some(json!({"billing_start": date})),
        ),
        BooksCommand::Migrate {
            account,
            from_month,
            file,
        } => (
            "POST",
            "/migrations".into(),
            Some(json!({"account_id": account, "from_month": from_month, "contracts": read_json(file)?})),
        ),
    };
    let (ok, text) = call(api, token, method, &path, body)?;
    if !ok {
        eprintln!("{text}");
        return Ok(ExitCode::FAILURE);
    }
    // A closed stdout (`| head`) is not an error of the command.
    if csv {
        use std::io::Write;
        let _ = write!(std::io::stdout().lock(), "{text}");
    } else if !text.is_empty() {
        let v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        crate::operator_cli::print_result(&v);
    }
    Ok(ExitCode::SUCCESS)
}
