//! The running server serves both OpenAPI documents without a token, and
//! every operation they list is routed (a request reaches a handler: no 405,
//! no axum's bare 404 for an unknown path).

mod common;
use common::*;
use serde_json::Value;
use std::net::SocketAddr;

/// (status, content type, body) of a request without credentials.
fn request(addr: SocketAddr, method: &str, path: &str) -> (u16, String, String) {
    let body = if method == "GET" || method == "DELETE" {
        ""
    } else {
        "{}"
    };
    let r = platdns_testkit::http::request(addr, method, path, &[("Content-Type", "application/json")], body);
    let content_type = r.header("content-type").unwrap_or_default().to_string();
    (r.status, content_type, r.body)
}

#[test]
fn openapi_documents_are_served_and_every_listed_operation_is_routed() {
    let server = Platdns::start(&[], &[]);
    let docs = [
        ("/dpf/v1", platdns_api::openapi::dpf_document()),
        ("/operator/v1", platdns_api::openapi::operator_document()),
    ];
    for (prefix, expected) in &docs {
        let (status, content_type, body) = request(server.http, "GET", &format!("{prefix}/openapi.json"));
        assert_eq!(status, 200, "{prefix}/openapi.json needs no token");
        assert_eq!(content_type, "application/json");
        let served: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(&served, expected, "{prefix}/openapi.json is the document");
        let mut probed = 0;
        for (path, item) in served["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys().filter(|m| *m != "parameters") {
                let method = method.to_ascii_uppercase();
                // Any value for each path parameter: the route must still match.
                let concrete: String = path
                    .split('/')
                    .map(|seg| if seg.starts_with('{') { "1" } else { seg })
                    .collect::<Vec<_>>()
                    .join("/");
                let (status, _, body) = request(server.http, &method, &format!("{prefix}{concrete}"));
                assert_ne!(status, 405, "{method} {prefix}{path} is not routed for this method");
                assert!(
                    !(status == 404 && body.is_empty()),
                    "{method} {prefix}{path} is not routed"
                );
                if path != "/openapi.json" {
                    assert_eq!(status, 401, "{method} {prefix}{path} without a token: {body}");
                    let err: Value = serde_json::from_str(&body).unwrap();
                    assert!(err["error_details"].is_array(), "DPF's error body: {body}");
                }
                probed += 1;
            }
        }
        assert!(probed > 10, "{prefix}: {probed} operations");
    }
    // The probe tells an unknown path apart.
    let (status, _, body) = request(server.http, "GET", "/dpf/v1/no_such_thing");
    assert!(status == 404 && body.is_empty());
}
