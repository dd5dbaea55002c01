//! Any text as a zone file: the reader must not panic, and a zone it accepts
//! must print to text that reads back to the same records (`zone print`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use platdns_zone::present::format_rdata;
use platdns_zone::zonefile::{parse_str, NoIncludes};
use platdns_zone::{Name, Zone};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let origin = Name::from_text("example.", None).unwrap();
    let parsed = parse_str(text, "fuzz.zone", Some(&origin), &mut NoIncludes);
    let Ok(zone) = Zone::from_parsed(&parsed, None) else { return };
    let records = zone.records();
    let mut printed = String::new();
    for r in &records {
        printed += &format!("{} {} IN {} {}\n", r.owner, r.ttl, r.rtype, format_rdata(r.rtype, &r.rdata));
    }
    let again = parse_str(&printed, "printed.zone", Some(zone.apex()), &mut NoIncludes);
    assert!(again.errors.is_empty(), "printed zone does not parse: {:?}\n{printed}", again.errors);
    let zone2 = Zone::from_parsed(&again, Some(zone.apex())).expect("printed zone builds");
    assert_eq!(records, zone2.records(), "round trip changed the zone");
});
