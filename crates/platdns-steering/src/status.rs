//! Health turned into DPF's statuses (manual "Traffic Control Statuses"):
//! *Live* says whether an element could be used, *Ready* whether it is.
//!
//! - A monitoring's result per endpoint goes through [`Debounce`]: a new
//!   raw result must hold for `holdtime` seconds before it counts (DPF names
//!   the property and its range only; the debounce is our reading).
//! - Results from several probe locations combine with [`combine_locations`]:
//!   up if any location reaches the target (ours: one location's network
//!   trouble must not fail an endpoint everywhere).
//! - An endpoint is Live up only if every enabled monitoring link is up
//!   ([`endpoint_live`], the manual's rule); its Ready status follows Live
//!   through [`EndpointState`], which holds it where manual failover or
//!   manual failback say an operator decides.
//! - A site is up if one of its endpoints is Ready; methods are derived in
//!   `steer.rs` from the same snapshot.

/// One monitoring result (DPF `EndpointMonitoringResult`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Health {
    Up,
    Down,
    Unknown,
}

impl Health {
    /// DPF's word for the result (`EndpointMonitoringResult`, `MonitoringPropsResult`).
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Up => "up",
            Health::Down => "down",
            Health::Unknown => "unknown",
        }
    }

    /// DPF's word read back; `None` for any other text.
    pub fn from_dpf(text: &str) -> Option<Health> {
        match text {
            "up" => Some(Health::Up),
            "down" => Some(Health::Down),
            "unknown" => Some(Health::Unknown),
            _ => None,
        }
    }
}

/// The holdtime of one (endpoint, monitoring) pair: the stable result
/// changes only when a different raw result has persisted `holdtime`
/// seconds; any other result in between restarts the wait. Leaving
/// `Unknown` (no check completed yet) takes effect at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Debounce {
    pub stable: Health,
    candidate: Option<(Health, u64)>,
}

impl Default for Debounce {
    fn default() -> Self {
        Debounce {
            stable: Health::Unknown,
            candidate: None,
        }
    }
}

impl Debounce {
    /// A debounce that starts from a stored result (restarts keep the last
    /// known state).
    pub fn from_stored(stable: Health) -> Self {
        Debounce {
            stable,
            candidate: None,
        }
    }

    /// Feeds the raw result of one check at `now` (seconds on any monotonic
    /// scale). Returns the new stable result when it changes.
    pub fn observe(&mut self, raw: Health, now: u64, holdtime: u32) -> Option<Health> {
        if raw == self.stable {
            self.candidate = None;
            return None;
        }
        let since = match self.candidate {
            Some((c, since)) if c == raw => since,
            _ => {
                self.candidate = Some((raw, now));
                now
            }
        };
        if self.stable == Health::Unknown || now.saturating_sub(since) >= u64::from(holdtime) {
            self.stable = raw;
            self.candidate = None;
            return Some(raw);
        }
        None
    }
}

/// One check round's result from the locations that probed: up if any
/// reached the target, down if all that answered failed, unknown if none
/// answered.
pub fn combine_locations(results: &[Health]) -> Health {
    if results.contains(&Health::Up) {
        Health::Up
    } else if results.contains(&Health::Down) {
        Health::Down
    } else {
        Health::Unknown
    }
}

/// Whether a monitor started with location tag `monitor` probes for a
/// monitoring whose `location` is `wanted` (DPF `jp`, `us` or `all`). A
/// monitor tagged `any` (the default of a single-node platform) serves
/// every monitoring; `all` is served by every monitor.
pub fn location_serves(monitor: &str, wanted: &str) -> bool {
    monitor == "any" || wanted == "all" || monitor == wanted
}

/// What the monitors alive now say about one check for one monitoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocationVerdict {
    /// The combined result of the locations that reported.
    Result(Health),
    /// Enough locations are alive but none has reported yet (a new check,
    /// or monitors just restarted): keep the last known result.
    Waiting,
    /// Fewer than `quorum` locations serving this monitoring are alive:
    /// the result freezes at the last known one and an alert is raised,
    /// rather than failing every endpoint because the checker is down.
    NoQuorum,
}

/// The result of a check for a monitoring located at `wanted`, from
/// `results` (location, result) and the locations whose monitors are alive
/// (fresh heartbeat, not stalled), with at least `quorum` of them serving
/// `wanted`. Results of locations not alive do not count.
pub fn combine_alive(wanted: &str, results: &[(&str, Health)], alive: &[&str], quorum: usize) -> LocationVerdict {
    let mut serving: Vec<&str> = alive.iter().copied().filter(|l| location_serves(l, wanted)).collect();
    serving.sort_unstable();
    serving.dedup();
    if serving.len() < quorum.max(1) {
        return LocationVerdict::NoQuorum;
    }
    let counted: Vec<Health> = results
        .iter()
        .filter(|(l, _)| serving.contains(l))
        .map(|(_, h)| *h)
        .collect();
    if counted.is_empty() {
        LocationVerdict::Waiting
    } else {
        LocationVerdict::Result(combine_locations(&counted))
    }
}

/// DPF: an endpoint is Live up iff it has at least one enabled monitoring
/// link and every enabled link's result is up (unknown counts as not up).
pub fn endpoint_live(links: impl IntoIterator<Item = (bool, Health)>) -> bool {
    let mut any = false;
    for (enabled, result) in links {
        if enabled {
            if result != Health::Up {
                return false;
            }
            any = true;
        }
    }
    any
}

/// The endpoint settings that decide how Ready follows Live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EndpointFlags {
    pub enabled: bool,
    /// Up→down of Live is not followed: an operator takes it out (`failover`).
    pub manual_failover: bool,
    /// Down→up of Live is not followed: an operator puts it back (`failback`).
    pub manual_failback: bool,
}

/// Why an operator's failover or failback is refused (DPF's 400 codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OperatorError {
    /// `forbidden|endpoint`: disabled, or no manual setting asks for it.
    #[error("the endpoint is disabled or has no manual failover/failback setting")]
    Forbidden,
    /// `invalid_live_status|endpoint`: failback while Live is down, without force.
    #[error("the endpoint's Live Status is down; failback needs force")]
    LiveDown,
}

/// Live and Ready of one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EndpointState {
    pub live: bool,
    pub ready: bool,
}

impl EndpointState {
    /// Live became `live`. Returns true if Ready changed.
    pub fn on_live(&mut self, live: bool, f: EndpointFlags) -> bool {
        let before = self.ready;
        let was = self.live;
        self.live = live;
        if !f.enabled {
            self.ready = false;
        } else if was && !live {
            if !f.manual_failover {
                self.ready = false;
            }
        } else if !was && live {
            if !f.manual_failback {
                self.ready = true;
            }
        } else if !f.manual_failover && !f.manual_failback {
            self.ready = live;
        }
        self.ready != before
    }

    /// The settings changed (PATCH endpoint, PUT config): enabling or
    /// clearing a manual flag makes Ready follow Live again at once;
    /// disabling takes the endpoint out. Returns true if Ready changed.
    pub fn on_flags(&mut self, old: EndpointFlags, new: EndpointFlags) -> bool {
        let before = self.ready;
        if !new.enabled {
            self.ready = false;
        } else if !old.enabled
            || (old.manual_failover && !new.manual_failover && !self.live)
            || (old.manual_failback && !new.manual_failback && self.live)
        {
            self.ready = self.live;
        }
        self.ready != before
    }

    /// DPF `POST .../failover`: the operator takes the endpoint out.
    pub fn failover(&mut self, f: EndpointFlags) -> Result<(), OperatorError> {
        if !f.enabled || !f.manual_failover {
            return Err(OperatorError::Forbidden);
        }
        self.ready = false;
        Ok(())
    }

    /// DPF `POST .../failback` (`force`: even while Live is down). Allowed
    /// with either manual flag: after a manual failover, or when manual
    /// failback held the endpoint out after recovery.
    pub fn failback(&mut self, f: EndpointFlags, force: bool) -> Result<(), OperatorError> {
        if !f.enabled || !(f.manual_failover || f.manual_failback) {
            return Err(OperatorError::Forbidden);
        }
        if !self.live && !force {
            return Err(OperatorError::LiveDown);
        }
        self.ready = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Health::*;

    #[test]
    fn holdtime_waits_for_a_result_to_persist() {
        let mut d = Debounce::default();
        assert_eq!(d.observe(Up, 0, 60), Some(Up), "leaving unknown is immediate");
        assert_eq!(d.observe(Down, 30, 60), None);
        assert_eq!(d.observe(Down, 60, 60), None, "30 s of 60");
        assert_eq!(d.observe(Down, 90, 60), Some(Down), "held 60 s");
        // A flap restarts the wait.
        assert_eq!(d.observe(Up, 120, 60), None);
        assert_eq!(d.observe(Down, 150, 60), None);
        assert_eq!(d.observe(Up, 180, 60), None);
        assert_eq!(d.observe(Up, 240, 60), Some(Up));
        // holdtime 0: the first differing check counts.
        assert_eq!(d.observe(Down, 250, 0), Some(Down));
    }

    #[test]
    fn locations_and_links_combine_as_documented() {
        assert_eq!(combine_locations(&[Down, Up]), Up);
        assert_eq!(combine_locations(&[Down, Unknown]), Down);
        assert_eq!(combine_locations(&[Unknown]), Unknown);
        assert!(
            endpoint_live([(true, Up), (false, Down)]),
            "disabled links do not count"
        );
        assert!(!endpoint_live([(true, Up), (true, Unknown)]));
        assert!(!endpoint_live([(false, Up)]), "no enabled link: down");
    }

    const AUTO: EndpointFlags = EndpointFlags {
        enabled: true,
        manual_failover: false,
        manual_failback: false,
    };

    #[test]
    fn ready_follows_live_without_manual_settings() {
        let mut s = EndpointState::default();
        assert!(s.on_live(true, AUTO));
        assert!(s.ready);
        assert!(s.on_live(false, AUTO));
        assert!(!s.ready);
        let off = EndpointFlags { enabled: false, ..AUTO };
        s.on_live(true, off);
        assert!(!s.ready, "a disabled endpoint is never ready");
        assert!(s.on_flags(off, AUTO), "enabling follows Live at once");
        assert!(s.ready);
    }

    #[test]
    fn manual_failback_holds_a_recovered_endpoint_out_until_the_operator() {
        let f = EndpointFlags {
            manual_failback: true,
            ..AUTO
        };
        let mut s = EndpointState::default();
        s.on_live(true, AUTO);
        s.on_live(false, f);
        assert!(!s.ready, "going down is followed");
        s.on_live(true, f);
        assert!(!s.ready, "recovery is not");
        assert_eq!(s.failback(f, false), Ok(()));
        assert!(s.ready);
        // Failback while down needs force.
        s.on_live(false, f);
        assert_eq!(s.failback(f, false), Err(OperatorError::LiveDown));
        assert_eq!(s.failback(f, true), Ok(()));
        assert!(s.ready);
        assert_eq!(s.failback(AUTO, true), Err(OperatorError::Forbidden));
    }

    #[test]
    fn manual_failover_keeps_a_failing_endpoint_until_the_operator() {
        let f = EndpointFlags {
            manual_failover: true,
            ..AUTO
        };
        let mut s = EndpointState::default();
        s.on_live(true, f);
        assert!(s.ready);
        s.on_live(false, f);
        assert!(s.ready, "not followed");
        assert_eq!(s.failover(f), Ok(()));
        assert!(!s.ready);
        assert_eq!(s.failover(AUTO), Err(OperatorError::Forbidden));
        // Clearing the flag while Live is down takes it out at once.
        let mut s = EndpointState {
            live: false,
            ready: true,
        };
        assert!(s.on_flags(f, AUTO));
        assert!(!s.ready);
    }

    #[test]
    fn only_live_locations_count_and_a_lost_quorum_freezes() {
        use Health::*;
        let results = [("jp", Down), ("us", Up)];
        // Both alive: any location reaching the target makes it up.
        assert_eq!(
            combine_alive("all", &results, &["jp", "us"], 1),
            LocationVerdict::Result(Up)
        );
        // A dead location's result does not count.
        assert_eq!(
            combine_alive("all", &results, &["jp"], 1),
            LocationVerdict::Result(Down)
        );
        // A monitoring located in jp hears only jp (and untagged) monitors.
        assert_eq!(
            combine_alive("jp", &results, &["jp", "us"], 1),
            LocationVerdict::Result(Down)
        );
        assert_eq!(
            combine_alive("jp", &[("any", Up)], &["any"], 1),
            LocationVerdict::Result(Up)
        );
        // No monitor alive for it: frozen, not down.
        assert_eq!(combine_alive("us", &results, &["jp"], 1), LocationVerdict::NoQuorum);
        assert_eq!(combine_alive("all", &results, &[], 1), LocationVerdict::NoQuorum);
        // A quorum of two locations.
        assert_eq!(combine_alive("all", &results, &["jp"], 2), LocationVerdict::NoQuorum);
        assert_eq!(
            combine_alive("all", &results, &["jp", "us"], 2),
            LocationVerdict::Result(Up)
        );
        // Alive but nothing reported yet: wait with the last known result.
        assert_eq!(combine_alive("all", &[], &["jp"], 1), LocationVerdict::Waiting);
    }
}
