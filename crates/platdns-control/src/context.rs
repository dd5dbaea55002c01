//! What every control-plane service works with (issue 16): the store, the
//! clock, where published zones go, the platform's zone settings, the
//! per-zone locks, the supervisor and the job queue. The HTTP crate's state
//! holds one and adds what only handlers need; a service takes `&Control`,
//! never the HTTP state.

use crate::compile::ZoneDefaults;
use crate::{JobQueue, Supervisor};
use jiff::Timestamp;
use platdns_dataplane::served::Publisher;
use platdns_store::Store;
use platdns_zone::Name;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Where the current time comes from; tests fix it, the prober's test
/// mode shifts it.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// One lock per zone, held from a commit's start until its zone is
/// published, so the DNS node never goes back to an older version; and the
/// zones being compacted, so one compaction at a time runs per zone.
#[derive(Default)]
pub struct ZoneLocks {
    locks: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
    /// Zones whose overlay is being compacted.
    pub compacting: Mutex<HashSet<Name>>,
}

impl ZoneLocks {
    pub async fn lock(&self, zone_id: i64) -> tokio::sync::OwnedMutexGuard<()> {
        let m = self
            .locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(zone_id)
            .or_default()
            .clone();
        m.lock_owned().await
    }
}

/// The control plane's context; cheap to clone.
#[derive(Clone)]
pub struct Control {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    /// Where committed zones go (the DNS node's served state).
    pub publisher: Arc<dyn Publisher>,
    /// The platform's SOA/NS data for hosted zones (operator settings).
    pub zone_defaults: Arc<ZoneDefaults>,
    /// The operator's time zone: contract end dates are days there.
    pub time_zone: jiff::tz::TimeZone,
    /// Commits and publications of one zone happen one at a time.
    pub zone_locks: Arc<ZoneLocks>,
    /// Starts, restarts and reports this process's background services.
    pub supervisor: Supervisor,
    /// Tenants' write jobs: queued per zone, contracts in turn, run by the
    /// `jobs` service.
    pub jobs: JobQueue,
    /// This process only follows the store (`serve --role dns`): it serves
    /// what the store holds and derives or writes no state of its own.
    pub follower: bool,
    /// Which meter slot counts which service (R2.1).
    pub meters: Arc<crate::meters::MeterSlots>,
    /// Secondary zones: NOTIFY received, the loop's wake-up, the NOTIFY
    /// queue.
    pub secondary: Arc<crate::secondary::Secondaries>,
    /// DNSSEC: the operator's signing settings and the signed zones kept.
    pub dnssec: Arc<crate::dnssec::Dnssec>,
    /// Where consent TXT records (R3.1) and parents' DS are looked up;
    /// none disables both.
    pub verify_resolver: Option<std::net::SocketAddr>,
    /// Delivery of state-change notifications (mail, webhook).
    pub notify: Arc<crate::notify::Notifier>,
    /// LB health: probe results and the running scheduler.
    pub health: Arc<crate::health::HealthMonitor>,
    /// Usage and restriction settings and state (R4.1–R4.4).
    pub usage: Arc<crate::usage::Usage>,
    /// The plans' terms: contract QPS, prices (R2, R6).
    pub terms: Arc<platdns_contract::PlanTerms>,
    /// Whether the store answers (`store-health`).
    pub store_health: Arc<crate::store_health::StoreHealth>,
}

impl Control {
    /// The defaults of every setting and the system clock.
    pub fn new(store: Store, publisher: Arc<dyn Publisher>) -> Control {
        Control {
            store,
            clock: Arc::new(SystemClock),
            publisher,
            zone_defaults: Arc::new(ZoneDefaults::default()),
            time_zone: jiff::tz::TimeZone::UTC,
            zone_locks: Arc::default(),
            supervisor: Supervisor::default(),
            jobs: JobQueue::new(2),
            follower: false,
            meters: Arc::new(crate::meters::MeterSlots::new(65_536)),
            secondary: Arc::default(),
            dnssec: Arc::default(),
            verify_resolver: None,
            notify: Arc::new(crate::notify::Notifier::new(crate::notify::NotifySettings::default())),
            health: Arc::new(crate::health::HealthMonitor::new(
                crate::health::MonitorSettings::default(),
            )),
            usage: Arc::new(crate::usage::Usage::new(crate::usage::UsageSettings::default())),
            terms: Arc::new(platdns_contract::PlanTerms::default()),
            store_health: Arc::default(),
        }
    }
}
