//! Which meter slot counts which service (R2.1). A DNS node counts answers
//! per slot ([`platdns_dataplane::meter`]); this registry gives each
//! published managed DNS zone and LB domain a slot when it is published and
//! says, for the per-second collector, whose usage a slot's count is.
//!
//! Slots are dense (1, 2, …; 0 counts for nobody) and never reused within a
//! process, so a count read a second late still belongs to the right
//! service. Past the node's capacity a service gets slot 0 and a warning:
//! it is answered, not metered (the operator raises `--meter-slots`).

use std::collections::HashMap;
use std::sync::Mutex;

/// What a slot meters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceKind {
    /// A managed DNS service (a zone).
    Zone,
    /// A traffic management service (an LB domain).
    LbDomain,
}

impl ServiceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceKind::Zone => "zone",
            ServiceKind::LbDomain => "lb_domain",
        }
    }

    pub fn from_text(text: &str) -> Option<ServiceKind> {
        match text {
            "zone" => Some(ServiceKind::Zone),
            "lb_domain" => Some(ServiceKind::LbDomain),
            _ => None,
        }
    }
}

/// A service of a contract, by store ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Service {
    pub contract_id: i64,
    pub kind: ServiceKind,
    pub id: i64,
}

#[derive(Default)]
struct Slots {
    by_service: HashMap<Service, u32>,
    /// Index = slot; slot 0 is nobody's.
    services: Vec<Option<Service>>,
    /// Services refused a slot (warned of once each).
    unmetered: std::collections::HashSet<Service>,
}

/// The registry; one per process, shared by the publisher and the collector.
pub struct MeterSlots {
    capacity: usize,
    inner: Mutex<Slots>,
}

impl MeterSlots {
    /// A registry for a node with `capacity` slots (slot 0 included).
    pub fn new(capacity: usize) -> MeterSlots {
        MeterSlots {
            capacity,
            inner: Mutex::new(Slots {
                by_service: HashMap::new(),
                services: vec![None],
                unmetered: Default::default(),
            }),
        }
    }

    /// The slot of `service`, given one at first sight (0 when full).
    pub fn slot(&self, service: Service) -> u32 {
        let mut s = self.inner.lock().expect("not poisoned");
        if let Some(&slot) = s.by_service.get(&service) {
            return slot;
        }
        if s.services.len() >= self.capacity {
            // Said for the first service left out and then each time their
            // number doubles: a node over capacity by 30,000 zones logged a
            // line per zone at every start.
            if s.unmetered.insert(service) && s.unmetered.len().is_power_of_two() {
                tracing::warn!(
                    ?service,
                    capacity = self.capacity,
                    unmetered = s.unmetered.len(),
                    "no meter slot left: services answered, not metered (raise --meter-slots)"
                );
            }
            return 0;
        }
        let slot = s.services.len() as u32;
        s.services.push(Some(service));
        s.by_service.insert(service, slot);
        slot
    }

    /// The slot of `service` if it has one.
    pub fn find(&self, service: Service) -> Option<u32> {
        self.inner
            .lock()
            .expect("not poisoned")
            .by_service
            .get(&service)
            .copied()
    }

    /// How many slots are in use (slot 0 included).
    pub fn in_use(&self) -> usize {
        self.inner.lock().expect("not poisoned").services.len()
    }

    /// How many services were left without a slot (answered, not metered).
    pub fn unmetered(&self) -> usize {
        self.inner.lock().expect("not poisoned").unmetered.len()
    }

    /// Whose count slot `slot` is.
    pub fn service(&self, slot: u32) -> Option<Service> {
        self.inner
            .lock()
            .expect("not poisoned")
            .services
            .get(slot as usize)
            .copied()
            .flatten()
    }

    /// Every (slot, service) given out so far.
    pub fn all(&self) -> Vec<(u32, Service)> {
        let s = self.inner.lock().expect("not poisoned");
        s.services
            .iter()
            .enumerate()
            .filter_map(|(i, svc)| svc.map(|svc| (i as u32, svc)))
            .collect()
    }
}

impl Default for MeterSlots {
    fn default() -> Self {
        MeterSlots::new(65_536)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_dense_stable_and_bounded() {
        let m = MeterSlots::new(3);
        let a = Service {
            contract_id: 1,
            kind: ServiceKind::Zone,
            id: 10,
        };
        let b = Service {
            kind: ServiceKind::LbDomain,
            ..a
        };
        let c = Service { id: 11, ..a };
        assert_eq!(m.slot(a), 1);
        assert_eq!(m.slot(b), 2, "a zone and an LB domain with one id are two services");
        assert_eq!(m.slot(a), 1, "stable");
        assert_eq!(m.slot(c), 0, "full: not metered");
        assert_eq!(m.service(2), Some(b));
        assert_eq!(m.service(0), None);
        assert_eq!(m.all(), [(1, a), (2, b)]);
    }
}
