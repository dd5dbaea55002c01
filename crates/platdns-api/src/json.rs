//! JSON in and out in DPF's shapes. Request bodies go through [`Body`], which
//! rejects malformed JSON, unknown fields and wrong types with a DPF 400 that
//! names the attribute (serde's path to the error).

use crate::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use jiff::Timestamp;
use platdns_store::{Contract, Zone};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            let mut err = ApiError::bad_request("invalid", "body", e.body_text());
            err.status = e.status();
            err
        })?;
        // Every DPF body is a JSON object; serde would also read a struct
        // from an array (`[null, null]`).
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::bad_request(
                "invalid",
                "schema",
                "the body must be a JSON object",
            ));
        }
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(de).map(Body).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.inner().to_string();
            // serde names unknown and missing fields in the message, not the path.
            let attribute = ["unknown field `", "missing field `"]
                .iter()
                .find_map(|p| inner.split(p).nth(1).and_then(|r| r.split('`').next()))
                .map(String::from)
                // Malformed JSON has no attribute to blame: DPF says "schema".
                .unwrap_or(
                    if e.inner().is_syntax() || e.inner().is_eof() || path == "." || path == "?" {
                        "schema".to_string()
                    } else {
                        path
                    },
                );
            ApiError::bad_request("invalid", &attribute, inner)
        })
    }
}

/// DPF `Description`: at most 80 characters (the reference's `maxLength`);
/// a longer one is refused when the body is read, naming the field.
#[derive(Debug, Clone, Default)]
pub struct Description(pub String);

impl std::ops::Deref for Description {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de> serde::Deserialize<'de> for Description {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        if s.chars().count() > 80 {
            return Err(serde::de::Error::custom("at most 80 characters"));
        }
        Ok(Description(s))
    }
}

/// For an `Option` field the reference does not let be `null`: absent is
/// `None`, `null` is a 400 naming the field (serde alone reads both as
/// `None`). Use with `#[serde(default, deserialize_with = "json::non_null")]`.
pub fn non_null<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// `{"request_id": ..., "result": ...}`
pub fn result(v: Value) -> Value {
    json!({"request_id": platdns_store::new_request_id(), "result": v})
}

/// `{"request_id": ..., "results": [...]}`
pub fn results(v: Vec<Value>) -> Value {
    json!({"request_id": platdns_store::new_request_id(), "results": v})
}

pub fn count(n: usize) -> Value {
    result(json!({"count": n}))
}

/// DPF time format: `2020-01-01T01:02:03.000+00:00`.
pub fn time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string()
}

pub fn contract(c: &Contract) -> Value {
    json!({
        "id": c.public_id,
        "service_code": c.service_code,
        "state": c.state.code(),
        "favorite": c.favorite,
        "plan": c.plan.code(),
        "description": c.description,
    })
}

pub fn zone(z: &Zone) -> Value {
    json!({
        "id": z.public_id,
        "common_config_id": z.common_config_id,
        "service_code": z.service_code,
        "state": z.state.code(),
        "favorite": z.favorite,
        "name": format!("{}.", z.name),
        "network": z.network,
        "description": z.description,
    })
}
