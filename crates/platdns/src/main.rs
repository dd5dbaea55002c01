//! `platdns`: one binary for every role (SPEC R11.3). Today: `serve` runs a
//! DNS node over zone files; `zone check` and `zone print` work on files.

mod books_cli;
mod metering;
mod operator_cli;
mod prober;
mod zones;

use anyhow::Context;
use arc_swap::ArcSwap;
use clap::{Parser, Subcommand};
use platdns_dataplane::answer::Identity;
use platdns_dataplane::served::ServedZones;
use platdns_dataplane::server::{DnsNode, NodeConfig};
use platdns_dataplane::tcp::TcpConfig;
use platdns_dataplane::threads::DnsThreads;
use platdns_zone::Name;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "platdns",
    version,
    about = "An open DNS platform: authoritative DNS, traffic management, contracts"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the platform (today: the DNS node) on embedded defaults.
    Serve(Box<ServeArgs>),
    /// Work with zone files.
    #[command(subcommand)]
    Zone(ZoneCommand),
    /// The operator API from the command line (accounts, contracts, zones, tokens).
    Operator(operator_cli::OperatorArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// UDP and TCP address for DNS.
    #[arg(long, default_value = "127.0.0.1:5353")]
    dns_listen: SocketAddr,
    /// HTTP address for the API, `/metrics` and `/healthz`.
    #[arg(long, default_value = "127.0.0.1:8053")]
    api_listen: SocketAddr,
    /// Where platdns keeps its data; `*.zone` files in `<data-dir>/zones` are served.
    #[arg(long, default_value = "platdns-data")]
    data_dir: PathBuf,
    /// A zone file to serve (repeatable). The origin is its `$ORIGIN`, its SOA
    /// owner, or its file name less `.zone`.
    #[arg(long = "zone-file")]
    zone_files: Vec<PathBuf>,
    /// UDP worker threads (0: one per CPU).
    #[arg(long, default_value_t = 0)]
    udp_workers: usize,
    /// Nice value of the control plane's threads (API, jobs, the store's,
    /// every background service) above the DNS threads': under a heavy
    /// commit the scheduler gives a core to a DNS query first. 0: all at
    /// the process's priority.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(i32).range(0..=19))]
    control_nice: i32,
    /// Entries of the store's change feed kept for following DNS nodes
    /// (one per commit or state change); a node that was away for more
    /// than that many changes loads the store whole.
    #[arg(long, default_value_t = 1_000_000)]
    change_feed_keep: i64,
    /// Seconds of usage counts a DNS node keeps while the store does not
    /// take them (an outage), to write each in its own second once it does;
    /// beyond, the oldest are dropped, and logged.
    #[arg(long, default_value_t = 3600)]
    usage_backlog_secs: usize,
    /// UDP packets read and sent per system call (1..=32).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=32))]
    udp_batch: u16,
    /// Largest EDNS UDP payload sent.
    #[arg(long, default_value_t = 1232)]
    max_udp_size: u16,
    /// Seconds a TCP connection may sit idle (RFC 7766 §6.2.3).
    #[arg(long, default_value_t = 10)]
    tcp_idle_timeout: u64,
    /// Answer for CH TXT id.server / hostname.bind; "none" to refuse.
    #[arg(long)]
    identity: Option<String>,
    /// The store: `sqlite://FILE` or `postgres://...`; default a SQLite file
    /// in the data dir.
    #[arg(long)]
    database: Option<String>,
    /// A file holding the operator's first API token. Without it, a random one
    /// is written to `<data-dir>/operator.token` (mode 0600) on first start.
    #[arg(long)]
    operator_token_file: Option<PathBuf>,
    /// Days from a termination notice to the earliest end (R5.2).
    #[arg(long, default_value_t = 30)]
    notice_days: i32,
    /// The operator's time zone (IANA name, or a fixed offset like +09:00):
    /// contract end dates and billing months are days there.
    #[arg(long, default_value = "Asia/Tokyo")]
    time_zone: String,
    /// The resolver through which pending zones' `_platdns-challenge` TXT
    /// records are checked (R3.1), every 5 minutes and on request, and
    /// signed zones' DS at their parents (issue 8): without it a KSK
    /// rollover waits at ds_state 5 for good, a new DS is never seen
    /// (ds_state stays 1), and turning DNSSEC off does not wait for the DS
    /// to be removed.
    #[arg(long)]
    verify_resolver: Option<SocketAddr>,
    /// Largest API request body in bytes.
    #[arg(long, default_value_t = 256 << 20)]
    max_request_bytes: usize,
    /// Days operation logs are kept; the DPF-API promises at least 90 (R11.4).
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(i64).range(90..))]
    log_retention_days: i64,
    /// Zone the platform serves for LB names (traffic management); LB
    /// domains created without a name get `<random>.<this zone>`.
    #[arg(long, default_value = "lb.platdns.test.")]
    lb_zone: String,
    /// TTL of LB answers, seconds.
    #[arg(long, default_value_t = 30)]
    lb_ttl: u32,
    /// Shortest monitoring interval a tenant may configure, seconds (DPF: 30).
    #[arg(long, default_value_t = 30)]
    lb_min_interval: u32,
    /// Do not run the health monitor in this process.
    #[arg(long)]
    no_monitor: bool,
    /// What this process does: `all` (DNS node, API and health monitor);
    /// `dns` (a DNS node following the store, with `/healthz` and `/metrics`
    /// on the HTTP port: several DNS nodes on one store); or `monitor` (only
    /// health probes, writing to the store, for a monitor at another
    /// location).
    #[arg(long, default_value = "all", value_parser = ["all", "monitor", "dns"])]
    role: String,
    /// This health monitor's location tag: `jp`, `us`, or `any` (serves
    /// every monitoring, whatever its `location`).
    #[arg(long, default_value = "any", value_parser = ["jp", "us", "any"])]
    location: String,
    /// This monitor's name among the monitors (default: host name and process id).
    #[arg(long)]
    monitor_instance: Option<String>,
    /// Seconds after which a silent monitor no longer counts.
    #[arg(long, default_value_t = 10)]
    monitor_stale_after: u64,
    /// Locations that must be alive for a monitoring's result to change;
    /// with fewer, results freeze at the last known and an alert is raised.
    #[arg(long, default_value_t = 1)]
    monitor_quorum: usize,
    /// Usage meter slots of the DNS node: how many zones and LB domains it
    /// meters separately (R2.1); services beyond are answered, not metered.
    /// Each slot costs 16 bytes per DNS worker thread.
    #[arg(long, default_value_t = 262_144)]
    meter_slots: usize,
    /// This DNS node's name in the usage figures, unique among the nodes
    /// of one store: each node's second is written whole under its name
    /// (default: host name and DNS port; with port 0, host name and
    /// process id).
    #[arg(long)]
    node_name: Option<String>,
    /// How a month's QPS is derived from per-minute averages (R4.4).
    #[arg(long, default_value = "max", value_parser = ["max", "p95"])]
    monthly_qps: String,
    /// Restriction policy of Basic contracts (R4.1): `off`, or comma-separated
    /// `window=SECONDS,threshold=PERCENT,period=SECONDS,action=drop|refuse|truncate|none,freeze=true|false`
    /// (omitted keys keep the defaults: 60, 100, 600, drop, false).
    #[arg(long, default_value = "")]
    restrict_basic: String,
    /// Restriction policy of Premium contracts, as `--restrict-basic`.
    #[arg(long, default_value = "")]
    restrict_premium: String,
    /// Values (rdata) one record (RRset) may hold; more is refused at
    /// staging with DPF's 400 `too_many` on `rdata`.
    #[arg(long, default_value_t = platdns_api::ZoneLimits::default().rdata_per_rrset)]
    max_rdata_per_rrset: usize,
    /// Records one whole set (`atomic_changes`, `PUT records`) may hold.
    #[arg(long, default_value_t = platdns_api::ZoneLimits::default().records_per_zone)]
    max_records_per_zone: usize,
    /// Seconds that SIGTERM leaves the background services to finish the
    /// work in flight (a round, a NOTIFY, a delivery) before the process
    /// exits.
    #[arg(long, default_value_t = 10)]
    shutdown_grace: u64,
    /// Tenants' write jobs (commits, `atomic_changes`) run at once, at
    /// most; more wait in a queue where one zone's jobs keep their order
    /// and contracts take turns.
    #[arg(long, default_value_t = 2)]
    job_workers: usize,
    /// Fault injection for tests: each named background service (`*`: every
    /// one) panics once at its first start, and is restarted.
    #[arg(long, hide = true, value_delimiter = ',')]
    fault_panic_once: Vec<String>,
    /// PEM file of CA certificates that TLS and HTTPS checks trust besides
    /// the public (webpki) roots: an operator's private CA.
    #[arg(long)]
    monitor_ca: Option<PathBuf>,
    /// SMTP relay (`host:port`) that state-change mail goes through; without
    /// it no mail is sent.
    #[arg(long)]
    smtp_relay: Option<String>,
    /// Require STARTTLS (with a certificate valid for the relay's name).
    #[arg(long)]
    smtp_starttls: bool,
    /// Sender of notification mail.
    #[arg(long, default_value = "platdns@localhost")]
    smtp_from: String,
    /// URL receiving a JSON POST per LB state change, with the notice
    /// accounts' phone numbers (how phone calls are placed).
    #[arg(long)]
    notify_webhook: Option<String>,
    /// Delivery attempts of one notification before it is given up.
    #[arg(long, default_value_t = 10)]
    notify_attempts: i64,
    /// Seconds before the first retry of a notification (doubled per retry, up to an hour).
    #[arg(long, default_value_t = 10)]
    notify_retry: u64,
    /// Notice accounts one common configuration may hold.
    #[arg(long, default_value_t = 10)]
    notice_accounts_max: i64,
    /// The operator key DNSSEC private keys are sealed under (64 hex digits).
    /// Without it, `<data-dir>/dnssec.key` is used, created (mode 0600) on
    /// first start. Every node serving signed zones needs the same key.
    #[arg(long)]
    dnssec_key_file: Option<PathBuf>,
    /// DNSSEC algorithm of new keys: 13 (ECDSA P-256, RFC 8624 MUST) or 15 (Ed25519).
    #[arg(long, default_value_t = 13)]
    dnssec_algorithm: u8,
    /// Denial of existence of newly signed zones: `nsec`, or `nsec3` (RFC 9276: no salt, 0 iterations).
    #[arg(long, default_value = "nsec")]
    dnssec_denial: String,
    /// How long an RRSIG is valid (RFC 6781 §4.4.2): a number with a unit,
    /// `d`, `h`, `m` or `s` (`14d`, `36h`).
    #[arg(long, default_value = "14d", value_parser = duration_seconds)]
    dnssec_validity: u32,
    /// Signatures expiring within this long are made again, under a new
    /// serial (so secondaries transfer them); same form.
    #[arg(long, default_value = "7d", value_parser = duration_seconds)]
    dnssec_refresh: u32,
    /// TTL of the DS at the parents, seconds (RFC 7583 TTLds).
    #[arg(long, default_value_t = 86400)]
    dnssec_ds_ttl: u64,
    /// Seconds for a parent's change to reach all its servers (RFC 7583 DprpP).
    #[arg(long, default_value_t = 3600)]
    dnssec_parent_propagation: u64,
    /// Seconds added to each rollover wait (RFC 7583 Ipubs/Irets).
    #[arg(long, default_value_t = 3600)]
    dnssec_safety: u64,
    /// How long a ZSK signs before it is rolled automatically (RFC 7583
    /// §3.2.1 pre-publication): a duration as `--dnssec-validity`, or `never`.
    #[arg(long, default_value = "30d", value_parser = lifetime_seconds)]
    dnssec_zsk_lifetime: u32,
    /// TTL of DNSKEY, CDS, CDNSKEY and NSEC3PARAM, seconds (RFC 7583 TTLkey).
    #[arg(long, default_value_t = 3600)]
    dnssec_dnskey_ttl: u32,
    /// Seconds for a change of ours to reach every server of the zone (RFC 7583 Dprp).
    #[arg(long, default_value_t = 300)]
    dnssec_propagation: u64,
    /// The least TTLsig a ZSK rollover waits for, seconds (RFC 7583
    /// §3.2.1); a zone whose largest TTL is larger waits for that.
    #[arg(long, default_value_t = 86400)]
    dnssec_max_zone_ttl: u64,
    /// Least seconds between two looks at a zone's DS at its parent
    /// (through `--verify-resolver`) while one is awaited.
    #[arg(long, default_value_t = 300)]
    dnssec_ds_check_interval: u64,
    /// Seconds between two listings of the signed zones by DNSSEC
    /// maintenance: a zone signed or changed since is looked at then. Each
    /// zone is otherwise looked at when its next event is due (a rollover
    /// step, signatures to refresh, its parent's DS to check).
    #[arg(long, default_value_t = 60)]
    dnssec_maintenance_interval: u64,
    #[command(flatten)]
    prober: prober::ProberArgs,
}

#[derive(Subcommand)]
enum ZoneCommand {
    /// Check a zone file; print every error as FILE:LINE: RRTYPE: reason.
    Check {
        file: PathBuf,
        #[arg(long)]
        origin: Option<String>,
    },
    /// Print a zone file in canonical form (parses back to the same zone).
    Print {
        file: PathBuf,
        #[arg(long)]
        origin: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Zone(z) => zone_command(z),
        Command::Operator(o) => operator_cli::run(o),
        Command::Serve(args) => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
                )
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .init();
            // The control plane's runtime: each of its threads (workers and
            // the blocking pool) lowers its priority as it starts; the DNS
            // threads are made apart, at the process's (`serve`).
            let nice = args.control_nice;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .on_thread_start(move || {
                    if let Err(e) = platdns_dataplane::threads::lower_this_thread(nice) {
                        tracing::warn!(error = %e, "a control-plane thread keeps the DNS threads' priority");
                    }
                })
                .build()
                .expect("tokio runtime");
            match rt.block_on(serve(*args)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("platdns: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn parse_origin(origin: Option<String>) -> Result<Option<Name>, String> {
    origin
        .map(|o| {
            let o = if o.ends_with('.') { o } else { format!("{o}.") };
            Name::from_text(&o, None).map_err(|e| format!("--origin: {e}"))
        })
        .transpose()
}

fn zone_command(cmd: ZoneCommand) -> ExitCode {
    let (file, origin, print) = match cmd {
        ZoneCommand::Check { file, origin } => (file, origin, false),
        ZoneCommand::Print { file, origin } => (file, origin, true),
    };
    let origin = match parse_origin(origin) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("platdns: {e}");
            return ExitCode::from(2);
        }
    };
    match zones::load_zone(&file, origin.as_ref()) {
        Ok(zone) => {
            if print {
                print_zone(&zone);
            } else {
                use std::io::Write;
                // A closed stdout (`| head`) is not an error of the check.
                let _ = writeln!(
                    std::io::stdout().lock(),
                    "{}: zone {} serial {}: {} records, {} names: OK",
                    file.display(),
                    zone.apex(),
                    zone.serial(),
                    zone.record_count(),
                    zone.node_count()
                );
            }
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            eprintln!("{}: {} error(s)", file.display(), errors.len());
            ExitCode::FAILURE
        }
    }
}

fn print_zone(zone: &platdns_zone::Zone) {
    use std::io::Write;
    let text = platdns_zone::present::zone_text(zone.apex(), &zone.records());
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    if args.role == "monitor" {
        return monitor_only(args).await;
    }
    // The DNS threads first, at the process's priority; then this thread,
    // which runs the control plane from here on, lowers its own, and every
    // thread it makes inherits that (`platdns_dataplane::threads`).
    let dns_threads = DnsThreads::spawn(args.udp_workers).context("starting the DNS threads")?;
    if let Err(e) = platdns_dataplane::threads::lower_this_thread(args.control_nice) {
        tracing::warn!(error = %e, "the control plane keeps the DNS threads' priority");
    }
    let zone_dir = args.data_dir.join("zones");
    std::fs::create_dir_all(&zone_dir).with_context(|| format!("creating {}", zone_dir.display()))?;
    let mut files = zones::ZoneFiles::new(&args.zone_files, Some(&zone_dir));
    log_report(&files.reload());
    let catalog = Arc::new(ArcSwap::from_pointee(files.catalog()));
    let served = Arc::new(ServedZones::new(files.catalog(), catalog.clone()));

    let identity = match args.identity.as_deref() {
        Some("none") => None,
        Some(id) => Some(id.to_string()),
        None => Some(hostname()),
    };
    let config = NodeConfig {
        listen: args.dns_listen,
        udp_batch: args.udp_batch as usize,
        max_udp_size: args.max_udp_size,
        tcp: TcpConfig {
            idle_timeout: Duration::from_secs(args.tcp_idle_timeout),
            ..TcpConfig::default()
        },
        identity: Identity {
            id: identity,
            version: Some(format!("platdns {}", env!("CARGO_PKG_VERSION"))),
        },
        meter_slots: args.meter_slots,
    };
    let kept = Arc::new(platdns_dataplane::xfr::Transfers::default());
    served.keep_for_transfers(kept.clone());
    let follower = args.role == "dns";
    let meters = Arc::new(platdns_control::meters::MeterSlots::new(args.meter_slots));
    // A following node keeps a local copy of what it serves (issue 19) and
    // starts from it: served at once, replaced by the store's once it
    // answers.
    let snapshot_dir = args.data_dir.join("snapshot");
    let from_snapshot = match follower {
        true => {
            served.track_changes();
            load_snapshot(&snapshot_dir, &served, &meters)
        }
        false => Vec::new(),
    };
    let mut start_dns = Some((config, kept, dns_threads));
    let mut node = None;
    // With a snapshot, DNS is answered from it at once, the store or not.
    let mut open_dns = !from_snapshot.is_empty();
    let store = loop {
        if open_dns {
            if let Some((config, kept, threads)) = start_dns.take() {
                node = Some(Arc::new(
                    DnsNode::start(config, catalog.clone(), kept, threads)
                        .await
                        .with_context(|| format!("binding DNS on {}", args.dns_listen))?,
                ));
            }
        }
        match connect_store(&args).await {
            Ok(store) => break store,
            // The API needs its store; a DNS node serves without it.
            Err(e) if !follower => return Err(e),
            Err(e) => {
                tracing::error!(
                    error = format!("{e:#}"),
                    zones = from_snapshot.len(),
                    "the store does not answer: serving the local snapshot until it does"
                );
                open_dns = true;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    let token_path = if follower {
        None
    } else {
        Some(operator_token(&store, &args).await?)
    };
    let mut state = app_state(&args, store, served.clone(), meters)?;
    state.follower = follower;
    platdns_control::store_health::start(&state, Duration::from_secs(if follower { 5 } else { 1 }));
    // Where a follower's change feed starts: read before the load, so a
    // commit made while the node loads is applied after it (issue 19).
    let feed_head = state.store.change_head().await?;
    let from_store = platdns_api::publish_all(&state)
        .await
        .map_err(|e| anyhow::anyhow!(e.to_string()))?;
    // What the snapshot held and the store no longer serves goes.
    for (apex, copy) in &from_snapshot {
        if platdns_api::Publisher::current(served.as_ref(), apex).is_some_and(|now| Arc::ptr_eq(&now, copy)) {
            platdns_api::Publisher::publish(served.as_ref(), apex, None);
        }
    }
    if follower {
        platdns_control::snapshot::start(&state, served.clone(), snapshot_dir);
    }
    // Without a snapshot, DNS is answered once every stored zone is served: a
    // node that answered while it loads would say REFUSED for zones it is
    // about to serve, and resolvers would take it for a lame server. Until
    // then the DNS port is closed, so they turn to the zone's other servers
    // at once.
    let node = match (node, start_dns) {
        (Some(node), _) => node,
        (None, Some((config, kept, threads))) => Arc::new(
            DnsNode::start(config, catalog.clone(), kept, threads)
                .await
                .with_context(|| format!("binding DNS on {}", args.dns_listen))?,
        ),
        (None, None) => unreachable!("the node is started, or still to start"),
    };
    if follower {
        platdns_api::follow::start(&state, feed_head);
    }
    if !args.no_monitor && !follower {
        // Health probes of LB domains (issue 5), inside `serve` by default.
        platdns_api::health::start_probing(&state)
            .await
            .map_err(|e| anyhow::anyhow!(e.to_string()))?;
    }
    if !follower {
        // Jobs a stopped process left RUNNING never finish: clients polling
        // them hear that they succeeded, when their commit landed, or that
        // they failed. One API process runs a store's jobs.
        let (landed, failed) = state
            .store
            .fail_unfinished_jobs("the server stopped before the job finished", jiff::Timestamp::now())
            .await?;
        if landed > 0 {
            tracing::warn!(
                jobs = landed,
                "jobs left running by the last process whose commit landed: SUCCESSFUL"
            );
        }
        if failed > 0 {
            tracing::warn!(jobs = failed, "jobs left running by the last process marked FAILED");
        }
        let jobs = state.jobs.clone();
        state.supervisor.spawn("jobs", move |ctx| jobs.clone().run(ctx));
        platdns_api::notify::start(&state);
        platdns_api::health::start_combining(&state);
        platdns_api::secondary::start(&state);
        platdns_api::xfr::start_notifying(&state);
        platdns_api::dnssec::start_maintenance(&state, Duration::from_secs(args.dnssec_maintenance_interval.max(1)));
    }
    if !follower {
        // Hourly: drop operation logs past the retention period.
        let (store, days, keep_changes) = (state.store.clone(), args.log_retention_days, args.change_feed_keep);
        state
            .supervisor
            .every("log-retention", Duration::from_secs(3600), None, move |_| {
                let store = store.clone();
                async move {
                    store.purge_logs(jiff::Timestamp::now(), days).await?;
                    // The change feed's oldest entries: a node that was away
                    // longer than they last loads the store whole.
                    store.purge_changes(keep_changes).await.map(|_| ())
                }
            });
        // Every 5 minutes: check pending zones' consent TXT (R3.1).
        if state.verify_resolver.is_some() {
            let verifying = state.clone();
            state
                .supervisor
                .every("consent-check", Duration::from_secs(300), None, move |_| {
                    let s = verifying.clone();
                    async move {
                        let n = platdns_api::verify::verify_pending(&s).await?;
                        if n > 0 {
                            tracing::info!(zones = n, "zones verified by TXT");
                        }
                        Ok::<(), platdns_api::ApiError>(())
                    }
                });
        }
    }
    // Every minute, on every node: stop serving contracts past their end
    // day (R5.2); the day passing is no change in the store's feed.
    let ending = state.clone();
    state
        .supervisor
        .every("contract-end", Duration::from_secs(60), None, move |_| {
            let s = ending.clone();
            async move {
                let n = platdns_api::withdraw_ended(&s).await?;
                if n > 0 {
                    tracing::info!(zones = n, "zones of ended contracts withdrawn");
                }
                Ok::<(), platdns_api::ApiError>(())
            }
        });
    prober::start(&args.prober, &state, node.local_addr, catalog.clone(), hostname());
    tracing::info!(zones = from_store, "zones from the store");
    metering::spawn(state.clone(), node.clone(), !follower, args.usage_backlog_secs);
    transfers(state.clone(), node.clone());
    let metrics_state = state.clone();
    let supervisor = state.supervisor.clone();
    let api = if follower {
        axum::Router::new()
    } else {
        platdns_api::router(state)
    };
    let http = tokio::net::TcpListener::bind(args.api_listen)
        .await
        .with_context(|| format!("binding HTTP on {}", args.api_listen))?;
    let api_addr = http.local_addr()?;
    // Signals are handled from before the first line, so a SIGTERM sent as
    // soon as a script sees it drains the services rather than kills.
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    // The lines scripts wait for: where everything listens. A closed stdout
    // (the reader went away) must not stop a server, so errors are ignored.
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "platdns serving DNS on {} (udp+tcp), HTTP on http://{}, data in {}, {} zone(s)",
            node.local_addr,
            api_addr,
            args.data_dir.display(),
            catalog.load().len()
        );
        if let Some(path) = &token_path {
            let _ = writeln!(out, "platdns operator token in {}", path.display());
        }
        let _ = out.flush();
    }
    tracing::info!(dns = %node.local_addr, http = %api_addr, "started");
    http_server(http.into_std()?, node.clone(), metrics_state, api);

    loop {
        tokio::select! {
            _ = hup.recv() => {
                // Parse off the async threads; queries keep flowing meanwhile.
                let (f, report) = tokio::task::spawn_blocking(move || {
                    let r = files.reload();
                    (files, r)
                }).await?;
                files = f;
                log_report(&report);
                served.set_files(files.catalog());
                tracing::info!(zones = node.catalog().len(), "reloaded on SIGHUP");
            }
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    tracing::info!("stopping: background services finish their work in flight");
    supervisor.shutdown(Duration::from_secs(args.shutdown_grace)).await;
    Ok(())
}

fn log_report(r: &zones::LoadReport) {
    for (path, apex, serial) in &r.loaded {
        tracing::info!(file = %path.display(), zone = %apex, serial, "zone loaded");
    }
    for (path, errors) in &r.failed {
        for e in errors {
            tracing::error!(file = %path.display(), "{e}");
        }
        tracing::error!(file = %path.display(), errors = errors.len(), "zone not loaded; the previous version (if any) keeps serving");
    }
}

/// An IANA zone from the system's tz database, or a fixed offset. Japan has
/// kept +09:00 without daylight saving since 1951, so "Asia/Tokyo" falls
/// back to that offset on a machine without tzdata.
fn operator_time_zone(name: &str) -> anyhow::Result<jiff::tz::TimeZone> {
    if let Ok(tz) = jiff::tz::TimeZone::get(name) {
        return Ok(tz);
    }
    if name == "Asia/Tokyo" {
        return Ok(jiff::tz::TimeZone::fixed(jiff::tz::offset(9)));
    }
    let fixed = (|| {
        let sign = match name.as_bytes().first()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let (h, m) = name[1..].split_once(':')?;
        let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
        (h <= 23 && m <= 59).then_some(())?;
        jiff::tz::Offset::from_seconds(sign * (h * 3600 + m * 60)).ok()
    })();
    fixed
        .map(jiff::tz::TimeZone::fixed)
        .ok_or_else(|| anyhow::anyhow!("--time-zone {name}: not a known zone or offset"))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "platdns".into())
}

/// `/healthz` and `/metrics` (Prometheus text format).
/// The operator's first credential: the file named by `--operator-token-file`,
/// else `<data-dir>/operator.token`, created with a random token (mode 0600)
/// if absent. Its hash is registered in the store; the token is never printed.
/// The API's state from the flags: the store, the publisher of served
/// data, and every operator setting.
/// Serves the zones of a DNS node's local snapshot (issue 19), each with
/// its usage meter; returns them, to withdraw those the store no longer
/// serves once it answers. A damaged snapshot is refused whole, and logged.
fn load_snapshot(
    dir: &std::path::Path,
    served: &ServedZones,
    meters: &platdns_control::meters::MeterSlots,
) -> Vec<(Name, Arc<platdns_zone::Zone>)> {
    let kept = match platdns_dataplane::snapshot::load(dir) {
        Ok(kept) => kept,
        Err(e) => {
            tracing::error!(error = %e, "the local snapshot is refused whole; it is written again from the store");
            return Vec::new();
        }
    };
    let zones: Vec<(Name, Arc<platdns_zone::Zone>)> = kept
        .into_iter()
        .map(|k| {
            let mut zone = k.zone;
            zone.set_meter(platdns_control::snapshot::meter_of(meters, &k.tags).unwrap_or(0));
            (zone.apex().clone(), Arc::new(zone))
        })
        .collect();
    if !zones.is_empty() {
        tracing::info!(zones = zones.len(), dir = %dir.display(), "serving the local snapshot");
        let publish = zones.iter().map(|(apex, z)| (apex.clone(), Some(z.clone()))).collect();
        platdns_api::Publisher::publish_many(served, publish);
    }
    zones
}

fn app_state(
    args: &ServeArgs,
    store: platdns_store::Store,
    publisher: Arc<dyn platdns_api::Publisher>,
    meters: Arc<platdns_control::meters::MeterSlots>,
) -> anyhow::Result<platdns_api::AppState> {
    let supervisor = platdns_control::Supervisor::default();
    supervisor.panic_once(args.fault_panic_once.iter().cloned());
    // The one HTTP(S) client: health checks and webhooks, with the
    // operator's extra CA (--monitor-ca) for both.
    let http_client = Arc::new(match &args.monitor_ca {
        Some(path) => {
            let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            platdns_monitor::Prober::with_extra_roots(&pem).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => platdns_monitor::Prober::new(),
    });
    let control = platdns_api::Control {
        store,
        clock: prober::clock(&args.prober),
        publisher,
        zone_defaults: Arc::new(platdns_api::ZoneDefaults {
            lb_zone: args.lb_zone.clone(),
            lb_ttl: args.lb_ttl,
            lb_min_interval: args.lb_min_interval,
            notice_accounts_max: args.notice_accounts_max,
            ..platdns_api::ZoneDefaults::default()
        }),
        time_zone: operator_time_zone(&args.time_zone)?,
        zone_locks: Default::default(),
        supervisor,
        jobs: platdns_control::JobQueue::new(args.job_workers),
        follower: false,
        meters,
        secondary: Default::default(),
        dnssec: Arc::new(platdns_api::dnssec::Dnssec::new(dnssec_settings(args)?)),
        verify_resolver: args.verify_resolver,
        usage: Arc::new(platdns_api::usage::Usage::new(platdns_api::usage::UsageSettings {
            node: args.node_name.clone().unwrap_or_else(|| match args.dns_listen.port() {
                // Nodes on port 0 (tests) share a port number, not a process.
                0 => format!("{}-pid{}", hostname(), std::process::id()),
                port => format!("{}-{port}", hostname()),
            }),
            monthly: if args.monthly_qps == "p95" {
                platdns_contract::usage::MonthlyMethod::P95
            } else {
                platdns_contract::usage::MonthlyMethod::Max
            },
            basic: restriction_policy(&args.restrict_basic).context("--restrict-basic")?,
            premium: restriction_policy(&args.restrict_premium).context("--restrict-premium")?,
        })),
        terms: Arc::new(platdns_contract::PlanTerms::default()),
        store_health: Default::default(),
        health: Arc::new(platdns_api::health::HealthMonitor::new(
            platdns_api::health::MonitorSettings {
                location: args.location.clone(),
                instance: args
                    .monitor_instance
                    .clone()
                    .unwrap_or_else(|| format!("{}-{}", hostname(), std::process::id())),
                stale_after: Duration::from_secs(args.monitor_stale_after),
                quorum: args.monitor_quorum,
                prober: http_client.clone(),
                ..Default::default()
            },
        )),
        notify: Arc::new(platdns_api::notify::Notifier::new(
            platdns_api::notify::NotifySettings {
                smtp_relay: args.smtp_relay.clone(),
                smtp_starttls: args.smtp_starttls,
                smtp_from: args.smtp_from.clone(),
                webhook: args.notify_webhook.clone(),
                max_attempts: args.notify_attempts,
                first_delay: std::time::Duration::from_secs(args.notify_retry),
                http: http_client.clone(),
                ..Default::default()
            },
        )),
    };
    Ok(platdns_api::AppState {
        control,
        limits: platdns_api::ZoneLimits {
            rdata_per_rrset: args.max_rdata_per_rrset,
            records_per_zone: args.max_records_per_zone,
        },
        notice_days: args.notice_days,
        max_body_bytes: args.max_request_bytes,
    })
}

/// A period given as a number and a unit: `d`, `h`, `m` or `s`; in seconds.
fn duration_seconds(text: &str) -> Result<u32, String> {
    let (n, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u32 = n
        .parse()
        .map_err(|_| format!("{text}: a number and a unit (14d, 36h, 90m, 40s)"))?;
    let scale = match unit {
        "d" => 86400,
        "h" => 3600,
        "m" => 60,
        "s" => 1,
        _ => return Err(format!("{text}: the unit is d, h, m or s")),
    };
    n.checked_mul(scale)
        .filter(|&s| s > 0)
        .ok_or_else(|| format!("{text}: more than zero and less than 136 years"))
}

/// A duration as [`duration_seconds`], or `never` (0).
fn lifetime_seconds(text: &str) -> Result<u32, String> {
    match text {
        "never" => Ok(0),
        _ => duration_seconds(text),
    }
}

/// DNSSEC settings from the flags, with the operator key read (or made).
fn dnssec_settings(args: &ServeArgs) -> anyhow::Result<platdns_api::dnssec::DnssecSettings> {
    let (path, text) = secret_file(args.dnssec_key_file.as_ref(), args.data_dir.join("dnssec.key"), || {
        use std::io::Read;
        let mut key = [0u8; 32];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
        Ok(key.iter().map(|b| format!("{b:02x}")).collect())
    })?;
    anyhow::ensure!(
        text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()),
        "{}: the DNSSEC operator key must be 64 hex digits",
        path.display()
    );
    let mut key = [0u8; 32];
    for (i, k) in key.iter_mut().enumerate() {
        *k = u8::from_str_radix(&text[2 * i..2 * i + 2], 16)?;
    }
    let algorithm = platdns_dnssec::Algorithm::from_number(args.dnssec_algorithm)
        .ok_or_else(|| anyhow::anyhow!("--dnssec-algorithm: 13 or 15"))?;
    let denial = platdns_api::dnssec::denial_of(&args.dnssec_denial)
        .ok_or_else(|| anyhow::anyhow!("--dnssec-denial: nsec or nsec3"))?;
    anyhow::ensure!(
        args.dnssec_refresh < args.dnssec_validity,
        "--dnssec-refresh must be shorter than --dnssec-validity"
    );
    let signer = platdns_dnssec::SignerConfig {
        denial,
        validity: args.dnssec_validity,
        refresh: args.dnssec_refresh,
        dnskey_ttl: args.dnssec_dnskey_ttl,
        ..Default::default()
    };
    let timings = platdns_dnssec::RolloverTimings {
        dnskey_ttl: signer.dnskey_ttl as u64,
        max_zone_ttl: args.dnssec_max_zone_ttl,
        ds_ttl: args.dnssec_ds_ttl,
        propagation_delay: args.dnssec_propagation,
        parent_propagation_delay: args.dnssec_parent_propagation,
        safety: args.dnssec_safety,
        zsk_lifetime: args.dnssec_zsk_lifetime as u64,
    };
    Ok(platdns_api::dnssec::DnssecSettings {
        operator_key: Some(key),
        algorithm,
        signer,
        timings,
        ds_check_interval: Duration::from_secs(args.dnssec_ds_check_interval),
    })
}

/// `serve --role monitor`: health probes only, written to the store for the
/// API's processes to combine; no DNS, no HTTP.
async fn monitor_only(args: ServeArgs) -> anyhow::Result<()> {
    let store = connect_store(&args).await?;
    let served = Arc::new(ServedZones::new(platdns_zone::Catalog::new(), Arc::default()));
    let meters = Arc::new(platdns_control::meters::MeterSlots::new(args.meter_slots));
    let state = app_state(&args, store, served, meters)?;
    prober::start_in_monitor(&args.prober, &state, args.dns_listen, hostname());
    platdns_api::health::start_probing(&state)
        .await
        .map_err(|e| anyhow::anyhow!(e.to_string()))?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "platdns monitor {} probing at location {}",
            state.health.settings.instance, state.health.settings.location
        );
        let _ = out.flush();
    }
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    state
        .supervisor
        .shutdown(Duration::from_secs(args.shutdown_grace))
        .await;
    Ok(())
}

/// Zone transfers out: the node's policy (ACLs and keys) refreshed from
/// the store every two seconds, and every transfer event logged.
fn transfers(state: platdns_api::AppState, node: Arc<DnsNode>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    node.transfers.set_events(tx);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let logging = state.clone();
    state.supervisor.spawn("transfer-log", move |mut ctx| {
        let (s, rx) = (logging.clone(), rx.clone());
        async move {
            let mut rx = rx.lock().await;
            loop {
                let e = tokio::select! {
                    e = rx.recv() => e,
                    _ = ctx.stopping() => None,
                };
                let Some(e) = e else {
                    return Ok::<(), platdns_api::ApiError>(());
                };
                match platdns_api::xfr::log_event(&s, &e).await {
                    Ok(()) => ctx.succeeded(),
                    Err(err) => ctx.failed("logging a transfer", &err),
                }
            }
        }
    });
    // At once after an edit in this process, or (a following node) when the
    // change feed says the policy changed; besides, every two seconds in the
    // API's process (other processes' edits) and every minute on a
    // following node.
    let wake = state.secondary.policy.clone();
    let supervisor = state.supervisor.clone();
    let every = Duration::from_secs(if state.follower { 60 } else { 2 });
    supervisor.every("transfer-policy", every, Some(wake), move |_| {
        let (s, node) = (state.clone(), node.clone());
        async move {
            node.transfers.set_policy(platdns_api::xfr::policy(&s).await?);
            Ok::<(), platdns_api::ApiError>(())
        }
    });
}

/// A restriction policy from its flag: `off`, or `key=value` pairs over
/// the defaults.
fn restriction_policy(spec: &str) -> anyhow::Result<Option<platdns_contract::usage::RestrictionPolicy>> {
    use platdns_contract::usage::{RestrictAction, RestrictionPolicy};
    if spec.trim() == "off" {
        return Ok(None);
    }
    let mut p = RestrictionPolicy::default();
    for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("{pair}: key=value expected"))?;
        let number = || {
            v.parse::<u32>()
                .with_context(|| format!("{k}: a number expected, not {v}"))
        };
        match k {
            "window" => p.window_secs = number()?.max(1),
            "threshold" => p.threshold_percent = number()?,
            "period" => p.period_secs = number()?.max(1),
            "action" => {
                p.action = RestrictAction::from_text(v)
                    .ok_or_else(|| anyhow::anyhow!("action: drop, refuse, truncate or none, not {v}"))?
            }
            "freeze" => p.freeze_changes = v.parse().with_context(|| format!("freeze: true or false, not {v}"))?,
            _ => anyhow::bail!("{k}: window, threshold, period, action or freeze"),
        }
    }
    Ok(Some(p))
}

async fn connect_store(args: &ServeArgs) -> anyhow::Result<platdns_store::Store> {
    let database = args
        .database
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", args.data_dir.join("platdns.db").display()));
    platdns_store::Store::connect(&database)
        .await
        .with_context(|| format!("opening the store at {database}"))
}

/// A secret the operator gives in a file (`given`), else kept in `default`,
/// created with `make()` (mode 0600) when absent; its trimmed contents.
fn secret_file(
    given: Option<&PathBuf>,
    default: PathBuf,
    make: impl FnOnce() -> anyhow::Result<String>,
) -> anyhow::Result<(PathBuf, String)> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = match given {
        Some(p) => p.clone(),
        None => {
            if !default.exists() {
                if let Some(dir) = default.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                let secret = make()?;
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&default)
                    .with_context(|| format!("creating {}", default.display()))?;
                writeln!(f, "{secret}")?;
            }
            default
        }
    };
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok((path, text.trim().to_string()))
}

async fn operator_token(store: &platdns_store::Store, args: &ServeArgs) -> anyhow::Result<PathBuf> {
    let (path, secret) = secret_file(
        args.operator_token_file.as_ref(),
        args.data_dir.join("operator.token"),
        || Ok(format!("pdns_op_{}", platdns_store::new_request_id())),
    )?;
    anyhow::ensure!(
        secret.len() >= 16,
        "{}: the operator token must be at least 16 characters",
        path.display()
    );
    store.ensure_operator_token(&secret, jiff::Timestamp::now()).await?;
    Ok(path)
}

/// The HTTP server, the supervised service `http`: the API, `/healthz`
/// (200 while every service runs and none is late, else 503; JSON naming
/// each service) and `/metrics`.
fn http_server(listener: std::net::TcpListener, node: Arc<DnsNode>, state: platdns_api::AppState, api: axum::Router) {
    use axum::http::StatusCode;
    use axum::routing::get;
    let supervisor = state.supervisor.clone();
    let healthz = supervisor.clone();
    let (store, follower) = (state.store_health.clone(), state.follower);
    let app = api
        .route(
            "/healthz",
            get(move || {
                let (healthy, mut body) = healthz.health();
                // A DNS node answers from memory without the store; the API
                // cannot, and says so (it answers 503 meanwhile).
                let (up, secs, error) = store.report();
                body["store"] = serde_json::json!({"up": up, "for_seconds": secs, "error": error});
                let status = match healthy && (up || follower) {
                    true => StatusCode::OK,
                    false => StatusCode::SERVICE_UNAVAILABLE,
                };
                async move { (status, axum::Json(body)) }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let (node, state) = (node.clone(), state.clone());
                async move {
                    let mut text = metrics_text(&node);
                    metering::metrics(&state, &node, &mut text);
                    state.supervisor.metrics(&mut text);
                    let (up, secs, _) = state.store_health.report();
                    text += "# HELP platdns_store_up Whether the store answered its last look (store-health).\n";
                    text += "# TYPE platdns_store_up gauge\n";
                    text += &format!("platdns_store_up {}\n", u8::from(up));
                    text += "# HELP platdns_store_state_seconds How long the store has been up, or away.\n";
                    text += "# TYPE platdns_store_state_seconds gauge\n";
                    text += &format!("platdns_store_state_seconds {secs}\n");
                    text
                }
            }),
        );
    supervisor.spawn("http", move |mut ctx| {
        let app = app.clone();
        // Each start serves the same bound socket.
        let listener = listener.try_clone().and_then(|l| {
            l.set_nonblocking(true)?;
            tokio::net::TcpListener::from_std(l)
        });
        async move {
            axum::serve(listener?, app)
                .with_graceful_shutdown(async move { ctx.stopping().await })
                .await
        }
    });
}

fn metrics_text(node: &DnsNode) -> String {
    use std::fmt::Write;
    let t = node.totals();
    let mut s = String::new();
    let _ = writeln!(s, "# HELP platdns_dns_responses_total DNS responses sent, by RCODE.");
    let _ = writeln!(s, "# TYPE platdns_dns_responses_total counter");
    const NAMES: [&str; 11] = [
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH",
        "NOTZONE",
    ];
    for (i, n) in t.rcodes.iter().enumerate() {
        let name = NAMES.get(i).copied().unwrap_or("OTHER");
        if *n > 0 || i < 6 {
            let _ = writeln!(s, "platdns_dns_responses_total{{rcode=\"{name}\"}} {n}");
        }
    }
    let _ = writeln!(s, "# HELP platdns_dns_dropped_total Packets read and not answered.");
    let _ = writeln!(s, "# TYPE platdns_dns_dropped_total counter");
    let _ = writeln!(s, "platdns_dns_dropped_total {}", t.dropped);
    let _ = writeln!(s, "# HELP platdns_zones Zones served.");
    let _ = writeln!(s, "# TYPE platdns_zones gauge");
    let _ = writeln!(s, "platdns_zones {}", node.catalog().len());
    s
}

#[cfg(test)]
mod tests {
    use super::{duration_seconds, lifetime_seconds};

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(duration_seconds("14d"), Ok(14 * 86400));
        assert_eq!(duration_seconds("36h"), Ok(36 * 3600));
        assert_eq!(duration_seconds("90m"), Ok(5400));
        assert_eq!(duration_seconds("40s"), Ok(40));
        for bad in ["", "14", "d", "14w", "-1d", "0s", "1.5d", "50000d"] {
            assert!(duration_seconds(bad).is_err(), "{bad}");
        }
        assert_eq!(lifetime_seconds("never"), Ok(0));
        assert_eq!(lifetime_seconds("30d"), Ok(30 * 86400));
        assert!(lifetime_seconds("0s").is_err());
    }
}
