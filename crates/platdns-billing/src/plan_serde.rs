//! serde for `platdns_contract::Plan` (that crate has no serde): "basic" /
//! "premium", as `Plan`'s `Display` prints it.

use platdns_contract::Plan;
use serde::de::Error;
use serde::{Deserialize, Deserializer, Serializer};

fn parse(s: &str) -> Option<Plan> {
    match s {
        "basic" => Some(Plan::Basic),
        "premium" => Some(Plan::Premium),
        _ => None,
    }
}

pub fn serialize<S: Serializer>(p: &Plan, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(p)
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Plan, D::Error> {
    let s = String::deserialize(d)?;
    parse(&s).ok_or_else(|| D::Error::custom(format!("unknown plan {s:?}: want \"basic\" or \"premium\"")))
}

pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(p: &Option<Plan>, s: S) -> Result<S::Ok, S::Error> {
        match p {
            Some(p) => s.collect_str(p),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Plan>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) => parse(&s)
                .map(Some)
                .ok_or_else(|| D::Error::custom(format!("unknown plan {s:?}: want \"basic\" or \"premium\""))),
        }
    }
}
