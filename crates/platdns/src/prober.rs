//! `serve --prober`: the availability prober of the monitor role (R6.1–R6.3)
//! inside this process, probing the name servers listed (this node's own DNS
//! address by default) from the probe point named. The probe interval is the
//! operator's billing setting (`probe_interval_seconds`, 60 s by default).

use arc_swap::ArcSwap;
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct ProberArgs {
    /// Run the availability prober in this process (R6.2).
    #[arg(long)]
    prober: bool,
    /// A public name server to probe (repeatable); default this node's DNS
    /// address.
    #[arg(long = "probe-server")]
    probe_servers: Vec<SocketAddr>,
    /// The name of this probe point (its location); default the host name.
    #[arg(long)]
    probe_point: Option<String>,
    /// A zone whose SOA is asked (repeatable); default the zones this node
    /// serves.
    #[arg(long = "probe-zone")]
    probe_zones: Vec<String>,
    /// At most this many zones per server per slot (a rotating sample).
    #[arg(long, default_value_t = 5)]
    probe_max_zones: usize,
    /// Tests only: seconds added to the API's clock (the prober keeps real
    /// time), to act on a month that has not ended yet.
    #[arg(long, hide = true, default_value_t = 0, allow_hyphen_values = true)]
    clock_offset_seconds: i64,
}

/// The API's clock: the system's, shifted by `--clock-offset-seconds`.
struct OffsetClock(i64);

impl platdns_api::Clock for OffsetClock {
    fn now(&self) -> jiff::Timestamp {
        let now = jiff::Timestamp::now();
        now.checked_add(jiff::SignedDuration::from_secs(self.0)).unwrap_or(now)
    }
}

pub fn clock(args: &ProberArgs) -> Arc<dyn platdns_api::Clock> {
    if args.clock_offset_seconds == 0 {
        Arc::new(platdns_api::SystemClock)
    } else {
        Arc::new(OffsetClock(args.clock_offset_seconds))
    }
}

/// Starts the prober when `--prober` is given; the zones asked are those
/// this node serves unless `--probe-zone` names them.
pub fn start(
    args: &ProberArgs,
    state: &platdns_api::AppState,
    own: SocketAddr,
    catalog: Arc<ArcSwap<platdns_zone::Catalog>>,
    hostname: String,
) {
    if !args.prober {
        return;
    }
    spawn(
        args,
        state,
        own,
        hostname,
        Arc::new(move || catalog.load().zones().map(|z| z.apex().to_string()).collect()),
    );
}

fn spawn(
    args: &ProberArgs,
    state: &platdns_api::AppState,
    own: SocketAddr,
    hostname: String,
    served: Arc<dyn Fn() -> Vec<String> + Send + Sync>,
) {
    let servers = if args.probe_servers.is_empty() {
        vec![own]
    } else {
        args.probe_servers.clone()
    };
    let fixed = args.probe_zones.clone();
    let zones: Arc<dyn Fn() -> Vec<String> + Send + Sync> =
        Arc::new(move || if fixed.is_empty() { served() } else { fixed.clone() });
    let probe_point = args.probe_point.clone().unwrap_or(hostname);
    tracing::info!(?servers, %probe_point, "availability prober started");
    let prober = platdns_availability::Prober {
        servers,
        probe_point,
        zones,
        max_zones: args.probe_max_zones.max(1),
        store: state.store.clone(),
        time_zone: state.time_zone.clone(),
    };
    state.supervisor.spawn("availability-prober", move |mut ctx| {
        let prober = prober.clone();
        async move {
            tokio::select! {
                _ = prober.run() => Err("the prober's loop ended"),
                _ = ctx.stopping() => Ok(()),
            }
        }
    });
}

/// `serve --role monitor --prober`: no catalog in this process, so the zones
/// asked are the store's published ones (refreshed every minute), unless
/// `--probe-zone` names them; the default server is `--dns-listen`.
pub fn start_in_monitor(args: &ProberArgs, state: &platdns_api::AppState, dns_listen: SocketAddr, hostname: String) {
    if !args.prober {
        return;
    }
    let names: Arc<ArcSwap<Vec<String>>> = Default::default();
    if args.probe_zones.is_empty() {
        let (store, names) = (state.store.clone(), names.clone());
        state
            .supervisor
            .every("probe-zones", std::time::Duration::from_secs(60), None, move |_| {
                let (store, names) = (store.clone(), names.clone());
                async move {
                    let zones = store.list_zones(None, None).await?;
                    names.store(Arc::new(
                        zones
                            .into_iter()
                            .filter(|z| z.state == platdns_store::Publication::Published)
                            .map(|z| z.name)
                            .collect(),
                    ));
                    Ok::<(), platdns_store::StoreError>(())
                }
            });
    }
    spawn(
        args,
        state,
        dns_listen,
        hostname,
        Arc::new(move || names.load().as_ref().clone()),
    );
}
