//! Records as RFC 1035 zone file text, for the verification tools and for
//! people (the same presentation `platdns zone print` uses).

use platdns_zone::present::format_rdata;
use platdns_zone::{Name, Record};
use std::fmt::Write;

/// One record a line, `OWNER TTL IN TYPE RDATA`, after a `$ORIGIN` line.
pub fn zone_text(apex: &Name, records: &[Record]) -> String {
    let mut s = String::with_capacity(records.len() * 80);
    let _ = writeln!(s, "$ORIGIN {apex}");
    for r in records {
        let _ = writeln!(
            s,
            "{} {} IN {} {}",
            r.owner,
            r.ttl,
            r.rtype,
            format_rdata(r.rtype, &r.rdata)
        );
    }
    s
}
