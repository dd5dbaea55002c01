//! Publication, as the handlers reach it: the control plane's zone
//! compilation (`platdns_control::compile`), zone publication
//! (`platdns_control::zones`), LB domains (`platdns_control::lb`) and what
//! may be served (`platdns_control::publication`), under the names the API
//! has always used.

pub use platdns_control::compile::{apex_of, commit_changes, compile, lb_zone, patched, zone_text};
pub use platdns_control::context::ZoneLocks;
pub use platdns_control::lb::{publish_all, publish_lb};
pub use platdns_control::publication::withdraw_ended;
pub use platdns_control::zones::{publish_committed, republish, republish_resigned};
pub use platdns_control::ZoneDefaults;
/// Where committed zones go: the DNS node's served state (in the data plane).
pub use platdns_dataplane::served::Publisher;
