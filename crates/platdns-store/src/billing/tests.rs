use crate::testing::{account_contract_zone, stores, t};
use crate::*;
use jiff::civil::date;
use jiff::tz::TimeZone;
use platdns_billing::{
    BillingMonth, BillingSettings, ClaimDecision, Exclusion, ExclusionReason, PriceTable, Refusal, Yen,
};
use platdns_contract::{Plan, PlanTerms};

fn tokyo() -> TimeZone {
    TimeZone::fixed(jiff::tz::offset(9))
}

fn prices(version: &str, from: jiff::civil::Date, premium: i64) -> PriceTable {
    serde_json::from_value(serde_json::json!({
        "version": version,
        "effective_from": from.to_string(),
        "zone_addition_fee": 1000,
        "traffic_management_initial_fee": 5000,
        "traffic_management_monthly_fee": 3000,
        "basic_monthly_fee": 2000,
        "additional_zone_monthly_fee": 500,
        "premium_monthly_fee": premium,
        "extra_qps_fee": 700,
    }))
    .unwrap()
}

fn probe(point: &str, slot: i64, ok: bool) -> ProbeRow {
    ProbeRow {
        server: "192.0.2.1:53".into(),
        probe_point: point.into(),
        slot_start: slot,
        probed_at: jiff::Timestamp::from_second(slot).unwrap(),
        udp_ok: ok,
        tcp_ok: true,
        zones: 1,
        detail: if ok { String::new() } else { "udp: timeout".into() },
    }
}

#[tokio::test]
async fn r6_2_one_probe_row_per_server_point_and_slot() {
    for (store, _dir) in stores().await {
        let s0 = t("2026-11-01T00:00:00Z").as_second();
        store.record_probe(&probe("tokyo", s0, true)).await.unwrap();
        // The same slot again replaces the first row.
        store.record_probe(&probe("tokyo", s0, false)).await.unwrap();
        store.record_probe(&probe("osaka", s0, true)).await.unwrap();
        store.record_probe(&probe("tokyo", s0 + 60, true)).await.unwrap();
        let rows = store
            .probes(t("2026-11-01T00:00:00Z"), t("2026-11-01T00:01:00Z"))
            .await
            .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows.iter()
                .map(|r| (r.probe_point.as_str(), r.ok()))
                .collect::<Vec<_>>(),
            vec![("osaka", true), ("tokyo", false)]
        );
        let samples = store
            .probe_samples(t("2026-11-01T00:00:00Z"), t("2026-11-02T00:00:00Z"))
            .await
            .unwrap();
        assert_eq!(samples.len(), 3);
        assert_eq!(samples[2].at, t("2026-11-01T00:01:00Z"));
    }
}

#[tokio::test]
async fn r6_3_exclusions_record_reason_and_author_and_refuse_bad_periods() {
    for (store, _dir) in stores().await {
        let mut e = Exclusion {
            from: t("2026-11-10T00:00:00Z"),
            until: t("2026-11-10T01:00:00Z"),
            reason: ExclusionReason::Maintenance,
            note: "planned upgrade".into(),
            author: "operator#1".into(),
        };
        let x = store.create_exclusion(&e, t("2026-11-09T00:00:00Z")).await.unwrap();
        assert_eq!(x.exclusion, e);
        assert_eq!(x.recorded_at, t("2026-11-09T00:00:00Z"));
        e.reason = ExclusionReason::ForceMajeure;
        e.until = t("2026-11-10T02:00:00Z");
        let y = store
            .update_exclusion(x.id, &e, t("2026-11-11T00:00:00Z"))
            .await
            .unwrap();
        assert_eq!(y.exclusion.reason, ExclusionReason::ForceMajeure);
        // Overlap query: from inside, and not from after.
        assert_eq!(
            store
                .exclusions(t("2026-11-10T01:30:00Z"), t("2026-11-12T00:00:00Z"))
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(store
            .exclusions(t("2026-11-10T02:00:00Z"), t("2026-11-12T00:00:00Z"))
            .await
            .unwrap()
            .is_empty());
        let bad = Exclusion {
            until: e.from,
            ..e.clone()
        };
        assert!(matches!(
            store.create_exclusion(&bad, t("2026-11-09T00:00:00Z")).await,
            Err(StoreError::Invalid { attribute, .. }) if attribute == "until"
        ));
        store.delete_exclusion(x.id).await.unwrap();
        assert!(matches!(store.delete_exclusion(x.id).await, Err(StoreError::NotFound)));
    }
}

#[tokio::test]
async fn price_versions_are_checked_whole_and_settings_default_to_the_terms() {
    for (store, _dir) in stores().await {
        let now = t("2026-01-01T00:00:00Z");
        store
            .add_price_version(&prices("2026", date(2026, 1, 1), 10000), "op", now)
            .await
            .unwrap();
        store
            .add_price_version(&prices("2026-07", date(2026, 7, 1), 12000), "op", now)
            .await
            .unwrap();
        // The same day again, or the same name: refused, nothing written.
        let e = store
            .add_price_version(&prices("other", date(2026, 7, 1), 1), "op", now)
            .await;
        assert!(matches!(e, Err(StoreError::Invalid { attribute, .. }) if attribute == "effective_from"));
        let e = store
            .add_price_version(&prices("2026", date(2026, 9, 1), 1), "op", now)
            .await;
        assert!(matches!(e, Err(StoreError::Invalid { attribute, .. }) if attribute == "version"));
        let book = store.price_book().await.unwrap();
        assert_eq!(book.versions().len(), 2);
        assert_eq!(
            book.in_force(date(2026, 7, 15)).unwrap().premium_monthly_fee,
            Yen(12000)
        );

        assert_eq!(store.billing_settings().await.unwrap(), BillingSettings::default());
        let s = BillingSettings {
            probe_interval_seconds: 30,
            ..BillingSettings::default()
        };
        store.set_billing_settings(&s, "op", now).await.unwrap();
        assert_eq!(store.billing_settings().await.unwrap().probe_interval_seconds, 30);
        let zero = BillingSettings {
            probe_interval_seconds: 0,
            ..BillingSettings::default()
        };
        assert!(matches!(
            store.set_billing_settings(&zero, "op", now).await,
            Err(StoreError::Invalid { attribute, .. }) if attribute == "probe_interval_seconds"
        ));
        assert_eq!(store.billing_settings().await.unwrap().probe_interval_seconds, 30);
    }
}

#[tokio::test]
async fn a_contract_as_billing_reads_it_with_its_plan_history() {
    let terms = PlanTerms::default();
    for (store, _dir) in stores().await {
        let (_a, c, z) = account_contract_zone(&store, "acme", "example.com").await;
        // Basic from 2026-11-01 (JST 09:00); Premium with 200 extra QPS from
        // the 10th; 300 extra QPS on the 20th.
        let up = ContractUpdate {
            plan: Some(Plan::Premium),
            ..Default::default()
        };
        store
            .update_contract(c.id, &up, &terms, t("2026-11-10T03:00:00Z"))
            .await
            .unwrap();
        let qps = ContractUpdate {
            extra_qps: Some(200),
            ..Default::default()
        };
        store
            .update_contract(c.id, &qps, &terms, t("2026-11-10T04:00:00Z"))
            .await
            .unwrap();
        let qps = ContractUpdate {
            extra_qps: Some(300),
            ..Default::default()
        };
        store
            .update_contract(c.id, &qps, &terms, t("2026-11-20T04:00:00Z"))
            .await
            .unwrap();
        let p = store.billing_contract(c.id, &tokyo()).await.unwrap();
        assert_eq!(p.billing_start, date(2026, 11, 1));
        let plans: Vec<_> = p.plans.iter().map(|x| (x.from, x.plan, x.extra_qps)).collect();
        assert_eq!(
            plans,
            vec![
                (date(2026, 11, 1), Plan::Basic, 0),
                (date(2026, 11, 10), Plan::Premium, 200),
                (date(2026, 11, 20), Plan::Premium, 300),
            ]
        );
        assert_eq!(p.changes.len(), 3);
        assert_eq!(p.services.len(), 1);
        assert_eq!(p.services[0].id, z.public_id);
        assert_eq!(p.services[0].billing_start, date(2026, 11, 24));
        // The operator sets another billing start.
        store
            .set_billing_origin(
                BillingObject::Contract(c.id),
                Some(date(2026, 11, 5)),
                None,
                t("2026-11-25T00:00:00Z"),
            )
            .await
            .unwrap();
        assert_eq!(
            store.billing_contract(c.id, &tokyo()).await.unwrap().billing_start,
            date(2026, 11, 5)
        );
    }
}

#[tokio::test]
async fn a_closed_month_is_frozen_and_claims_keep_their_decisions() {
    for (store, _dir) in stores().await {
        let (_a, c, _z) = account_contract_zone(&store, "acme", "example.com").await;
        let nov = BillingMonth::new(2026, 11).unwrap();
        let now = t("2026-12-01T00:00:00Z");
        store
            .add_price_version(&prices("2026", date(2026, 1, 1), 10000), "op", now)
            .await
            .unwrap();
        let p = store.billing_contract(c.id, &tokyo()).await.unwrap();
        let settings = BillingSettings::default();
        let inv = platdns_billing::invoice(&p, nov, &store.price_book().await.unwrap(), &settings, &tokyo()).unwrap();
        store
            .save_invoices(nov, &[(c.id, inv.clone())], None, now)
            .await
            .unwrap();
        let got = store.get_invoice(c.id, nov).await.unwrap();
        assert!(!got.closed);
        assert_eq!(got.invoice, inv);
        store
            .save_invoices(nov, &[(c.id, inv.clone())], Some("operator#1"), now)
            .await
            .unwrap();
        assert!(store.get_invoice(c.id, nov).await.unwrap().closed);
        assert_eq!(store.month_closed(nov).await.unwrap().unwrap().1, "operator#1");
        // A later price version does not reach it: writes are refused whole.
        let mut other = inv.clone();
        other.total = Yen(1);
        assert!(matches!(
            store.save_invoices(nov, &[(c.id, other)], None, now).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(store.get_invoice(c.id, nov).await.unwrap().invoice, inv);
        // Tenant view: only its own contracts' invoices.
        assert_eq!(
            store
                .list_invoices(None, Some(nov), Some(c.account_id))
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(store
            .list_invoices(None, None, Some(c.account_id + 1000))
            .await
            .unwrap()
            .is_empty());

        let k = store
            .file_claim(c.id, "svc", nov, t("2026-12-15T14:59:59Z"), "operator#1", now)
            .await
            .unwrap();
        assert_eq!(store.claims(Some(c.id), Some(nov)).await.unwrap(), vec![k.clone()]);
        let d = ClaimDecision::Refused {
            claim: k.public_id.clone(),
            refusal: Refusal::NotPremium,
        };
        let dec = BillingMonth::new(2026, 12).unwrap();
        store.record_decisions(&[(k.id, d.clone(), dec)], now).await.unwrap();
        let k2 = store.find_claim(&k.public_id).await.unwrap();
        assert_eq!(k2.decision, Some(d.clone()));
        assert_eq!(k2.credited_month, None);
        // A decision is a record: a second one is refused.
        assert!(matches!(
            store.record_decisions(&[(k.id, d, dec)], now).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(store.credits_for(c.id, dec).await.unwrap().is_empty());
    }
}
