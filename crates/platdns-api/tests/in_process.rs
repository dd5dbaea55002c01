//! The API in process (issue 16): the router and the control plane's job
//! queue on a temporary SQLite store, the node's served state in memory, no
//! socket. What the end-to-end tests check through the real binary, these
//! check in milliseconds, down to what the DNS catalog holds.

use arc_swap::ArcSwap;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use platdns_api::AppState;
use platdns_dataplane::served::ServedZones;
use platdns_zone::{Catalog, Name, Rtype};
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

/// A router with its state, store and served catalog.
struct Harness {
    state: AppState,
    router: axum::Router,
    catalog: Arc<ArcSwap<Catalog>>,
    operator: String,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn new() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = platdns_store::Store::connect(&url).await.unwrap();
        let catalog = Arc::new(ArcSwap::from_pointee(Catalog::new()));
        let served = Arc::new(ServedZones::new(Catalog::new(), catalog.clone()));
        let state = AppState::new(store, served);
        let operator = "operator-secret-for-the-harness".to_string();
        state
            .store
            .ensure_operator_token(&operator, jiff::Timestamp::now())
            .await
            .unwrap();
        // Commits are jobs: the service that runs them.
        let jobs = state.jobs.clone();
        state.supervisor.spawn("jobs", move |ctx| jobs.clone().run(ctx));
        let router = platdns_api::router(state.clone());
        Harness {
            state,
            router,
            catalog,
            operator,
            _dir: dir,
        }
    }

    async fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, v)
    }

    /// An account with a Basic contract, an approved zone and a read-write
    /// token: (zone id, token).
    async fn tenant(&self, account: &str, zone: &str) -> (String, String) {
        let op = self.operator.clone();
        let post = |path: &'static str, body: Value| {
            let op = op.clone();
            async move {
                let (st, v) = self.call("POST", path, &op, Some(body)).await;
                assert!(st.is_success(), "{path}: {st} {v}");
                v["result"].clone()
            }
        };
        let a = post("/operator/v1/accounts", json!({"name": account})).await;
        let c = post(
            "/operator/v1/contracts",
            json!({"account_id": a["id"], "plan": "basic"}),
        )
        .await;
        let z = post(
            "/operator/v1/zones",
            json!({"contract_id": c["id"], "name": zone, "approve": "test"}),
        )
        .await;
        let t = post(
            "/operator/v1/tokens",
            json!({"account_id": a["id"], "scopes": ["read", "write"]}),
        )
        .await;
        (
            z["id"].as_str().unwrap().to_string(),
            t["token"].as_str().unwrap().to_string(),
        )
    }

    /// Stages `www` A `address` in `zone`.
    async fn www_a(&self, zone: &str, token: &str, address: &str) -> (StatusCode, Value) {
        let record = json!({"name": "www", "rrtype": "A", "ttl": 300, "rdata": [{"value": address}]});
        self.call("POST", &format!("/dpf/v1/zones/{zone}/records"), token, Some(record))
            .await
    }

    /// Polls a job until it leaves RUNNING.
    async fn job(&self, token: &str, accepted: &Value) -> Value {
        let url = accepted["jobs_url"].as_str().unwrap();
        for _ in 0..500 {
            let (st, job) = self.call("GET", url, token, None).await;
            assert_eq!(st, StatusCode::OK, "{job}");
            if job["status"] != "RUNNING" {
                return job;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("{url} still RUNNING");
    }

    /// The A addresses the node would answer for `name`.
    fn served_a(&self, name: &str) -> Vec<String> {
        let catalog = self.catalog.load();
        let q = Name::from_text(name, None).unwrap().to_lowercase();
        let Some(zone) = catalog.find(q.as_wire(), Rtype::A) else {
            return Vec::new();
        };
        zone.records_at(q.as_wire())
            .iter()
            .filter(|r| r.rtype == Rtype::A && r.rdata.len() == 4)
            .map(|r| std::net::Ipv4Addr::new(r.rdata[0], r.rdata[1], r.rdata[2], r.rdata[3]).to_string())
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_job_reaches_the_served_catalog_and_stays_with_its_tenant() {
    let h = Harness::new().await;
    let (zone, tok) = h.tenant("acme", "example.com").await;
    let (_, other) = h.tenant("other", "example.net").await;
    let (st, v) = h.www_a(&zone, &tok, "192.0.2.10").await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    assert!(h.served_a("www.example.com.").is_empty(), "staged, not served");
    // DPF zone state: 1 before publication, 2 from the first commit on.
    let zone_url = format!("/dpf/v1/zones/{zone}");
    assert_eq!(h.call("GET", &zone_url, &tok, None).await.1["result"]["state"], 1);
    let (st, accepted) = h
        .call("PATCH", &format!("/dpf/v1/zones/{zone}/changes"), &tok, Some(json!({})))
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{accepted}");
    // R1.2: the other tenant sees neither the job nor the zone (404).
    let url = accepted["jobs_url"].as_str().unwrap();
    assert_eq!(h.call("GET", url, &other, None).await.0, StatusCode::NOT_FOUND);
    let (st, _) = h
        .call(
            "PATCH",
            &format!("/dpf/v1/zones/{zone}/changes"),
            &other,
            Some(json!({})),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let job = h.job(&tok, &accepted).await;
    assert_eq!(job["status"], "SUCCESSFUL", "{job}");
    assert_eq!(h.served_a("www.example.com."), vec!["192.0.2.10"]);
    assert_eq!(h.call("GET", &zone_url, &tok, None).await.1["result"]["state"], 2);
    assert_eq!(h.state.jobs.unfinished(), 0);
}

/// Whether a DPF error body names `attribute`.
fn names(err: &Value, attribute: &str) -> bool {
    let details = err["error_details"].as_array();
    details.is_some_and(|d| d.iter().any(|e| e["attribute"] == attribute))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_record_is_refused_naming_its_attribute_and_stages_nothing() {
    let h = Harness::new().await;
    let (zone, tok) = h.tenant("acme", "example.com").await;
    let (st, err) = h.www_a(&zone, &tok, "192.0.2.999").await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{err}");
    assert!(names(&err, "rdata"), "{err}");
    let (_, diffs) = h
        .call("GET", &format!("/dpf/v1/zones/{zone}/records/diffs/count"), &tok, None)
        .await;
    assert_eq!(diffs["result"]["count"], 0, "{diffs}");
    // A whole set with one bad record is refused whole, before any job.
    let (st, err) = h
        .call(
            "PATCH",
            &format!("/dpf/v1/zones/{zone}/atomic_changes"),
            &tok,
            Some(json!({"records": [
                {"name": "a", "rrtype": "A", "ttl": 300, "rdata": [{"value": "192.0.2.1"}]},
                {"name": "b", "rrtype": "MX", "ttl": 300, "rdata": [{"value": "not an mx"}]},
            ]})),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{err}");
    assert!(names(&err, "records[1].rdata"), "{err}");
    assert_eq!(h.state.jobs.unfinished(), 0, "no job was queued");
    assert!(h.served_a("a.example.com.").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rrset_too_large_for_any_dns_message_is_refused_at_staging() {
    let h = Harness::new().await;
    let (zone, tok) = h.tenant("acme", "example.com").await;
    // 300 TXT values of 250 octets: under the 1,000 values per record, but
    // about 78,000 octets, more than a DNS message holds (RFC 1035 §4.2.2).
    let value = format!("\"{}\"", "x".repeat(250));
    let rdata: Vec<Value> = (0..300).map(|i| json!({"value": format!("{value} \"{i}\"")})).collect();
    let record = json!({"name": "big", "rrtype": "TXT", "ttl": 300, "rdata": rdata});
    let path = format!("/dpf/v1/zones/{zone}/records");
    let (st, err) = h.call("POST", &path, &tok, Some(record)).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{err}");
    assert!(names(&err, "rdata"), "{err}");
    // 200 of them fit (about 52,000 octets).
    let rdata: Vec<Value> = (0..200).map(|i| json!({"value": format!("{value} \"{i}\"")})).collect();
    let record = json!({"name": "big", "rrtype": "TXT", "ttl": 300, "rdata": rdata});
    let (st, v) = h.call("POST", &path, &tok, Some(record)).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
}
