//! Notifications of LB domains' state changes (issue 5; DPF
//! `cc_notice_accounts`, log operations `mail_notification` and
//! `phone_notification`).
//!
//! - A state change (an endpoint's Live or Ready status, a site's Live
//!   status) is first an entry in the LB domain's log, in DPF's operation
//!   names. Then, for the notice accounts of the LB domain's common
//!   configuration, it is queued in the store's outbox: one mail per account
//!   with a mail address (through the operator's SMTP relay), and one POST
//!   to the operator's webhook carrying the change and every account,
//!   phone numbers included: the webhook is how a phone call is placed (the
//!   platform does not dial).
//! - Queuing is one insert; delivery is the deliverer's task, so a slow or
//!   dead relay never holds back the monitor or an answer. A failed attempt
//!   is retried with doubling delays up to a bound, then given up; each
//!   outcome is a contract log entry (`success`, `retry`, `failure`).
//! - The outbox is in the store, so a restart loses nothing queued.

use crate::context::Control;
use crate::publication::{log_event, Event};
use jiff::Timestamp;
use platdns_store::{LbDomain, NewNotification, NoticeAccount, Notification};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Operator settings for delivery.
#[derive(Clone)]
pub struct NotifySettings {
    /// `host:port` of the SMTP relay; `None`: no mail is queued.
    pub smtp_relay: Option<String>,
    /// Require STARTTLS with a certificate valid for the relay's name.
    pub smtp_starttls: bool,
    /// The envelope and header sender.
    pub smtp_from: String,
    /// `http(s)://…` receiving a JSON POST per change; `None`: none.
    pub webhook: Option<String>,
    /// Attempts before a notification is given up.
    pub max_attempts: i64,
    /// Delay after the first failure; doubled after each, up to `max_delay`.
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// Bound on one delivery attempt.
    pub timeout: Duration,
    /// The HTTP(S) client webhooks are posted with: the monitor's, so its
    /// roots (`--monitor-ca`) serve both.
    pub http: Arc<platdns_monitor::Prober>,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            smtp_relay: None,
            smtp_starttls: false,
            smtp_from: "platdns@localhost".into(),
            webhook: None,
            max_attempts: 10,
            first_delay: Duration::from_secs(10),
            max_delay: Duration::from_secs(3600),
            timeout: Duration::from_secs(15),
            http: Arc::new(platdns_monitor::Prober::new()),
        }
    }
}

/// The settings and the deliverer's wake-up.
#[derive(Default)]
pub struct Notifier {
    pub settings: NotifySettings,
    wake: Arc<Notify>,
    /// Operator alerts not yet delivered, each with its failed attempts
    /// and when it is next tried (the `notify-deliver` service sends them).
    alerts: std::sync::Mutex<Vec<(Value, u32, tokio::time::Instant)>>,
}

impl Notifier {
    pub fn new(settings: NotifySettings) -> Notifier {
        Notifier {
            settings,
            wake: Default::default(),
            alerts: Default::default(),
        }
    }
}

/// Attempts at an operator alert before it is given up (it is also in the
/// log, where the event that raised it is written).
const ALERT_ATTEMPTS: u32 = 3;

/// One change of an LB domain's state, as its log names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    /// DPF operation: `endpoint_live_status_changed`,
    /// `endpoint_ready_status_changed`, `site_live_status_changed` or
    /// `monitoring_result_changed`.
    pub operation: &'static str,
    /// `site` or `site/endpoint` (with `:monitoring` for a result).
    pub target: String,
    pub old: &'static str,
    pub new: &'static str,
}

fn up_down(b: bool) -> &'static str {
    if b {
        "up"
    } else {
        "down"
    }
}

impl StateChange {
    pub fn status(operation: &'static str, target: String, old: bool, new: bool) -> StateChange {
        StateChange {
            operation,
            target,
            old: up_down(old),
            new: up_down(new),
        }
    }
}

/// Logs `changes` in the LB domain's log and queues their notifications.
/// Errors are logged, not returned: a change is served whether or not its
/// notification could be queued.
pub async fn state_changed(s: &Control, l: &LbDomain, changes: &[StateChange]) {
    if changes.is_empty() {
        return;
    }
    if let Err(e) = record(s, l, changes).await {
        tracing::error!(lb_domain = %l.name, error = %e, "recording LB state changes");
    }
    s.notify.wake.notify_one();
}

async fn record(s: &Control, l: &LbDomain, changes: &[StateChange]) -> Result<(), platdns_store::StoreError> {
    let now = s.clock.now();
    for c in changes {
        tracing::info!(lb_domain = %l.name, operation = c.operation, target = %c.target, old = c.old, new = c.new, "LB state changed");
        let target = format!("{} {}->{}", c.target, c.old, c.new);
        let event = Event {
            contract_id: l.contract_id,
            zone_id: None,
            lb_domain_id: Some(l.id),
            log_type: "monitoring_event",
            operation: c.operation,
            target: &target,
            status: "success",
        };
        log_event(s, event).await?;
    }
    // Monitoring results are logged; what is notified is what changes
    // answers or could: statuses.
    let notable: Vec<&StateChange> = changes
        .iter()
        .filter(|c| c.operation != "monitoring_result_changed")
        .collect();
    if notable.is_empty() {
        return Ok(());
    }
    let accounts = s.store.notice_accounts(l.common_config_id).await?;
    if accounts.is_empty() {
        return Ok(());
    }
    let settings = &s.notify.settings;
    let mut queue = Vec::new();
    if settings.smtp_relay.is_some() {
        for a in accounts.iter().filter(|a| !a.mail.is_empty()) {
            let (subject, body) = mail_text(l, a, &notable, now);
            queue.push(NewNotification {
                contract_id: l.contract_id,
                lb_domain_id: Some(l.id),
                channel: "mail".into(),
                recipient: a.mail.clone(),
                subject,
                body,
            });
        }
    }
    if let Some(url) = &settings.webhook {
        queue.push(NewNotification {
            contract_id: l.contract_id,
            lb_domain_id: Some(l.id),
            channel: "webhook".into(),
            recipient: url.clone(),
            subject: format!("{} state changed", l.name),
            body: webhook_body(l, &accounts, &notable, now).to_string(),
        });
    }
    s.store.enqueue_notifications(&queue, now).await
}

/// The mail: subject and text in the account's language.
fn mail_text(l: &LbDomain, a: &NoticeAccount, changes: &[&StateChange], now: Timestamp) -> (String, String) {
    let ja = a.lang == "ja";
    let first = changes[0];
    let subject = if ja {
        format!("[platdns] {} の状態変化: {} {}", l.name, first.target, first.new)
    } else {
        format!("[platdns] {} state change: {} {}", l.name, first.target, first.new)
    };
    let mut body = if ja {
        format!(
            "{} 様\n\nLBドメイン {} ({}) の状態が変化しました ({now}):\n\n",
            a.name, l.name, l.service_code
        )
    } else {
        format!(
            "Dear {},\n\nThe state of LB domain {} ({}) changed at {now}:\n\n",
            a.name, l.name, l.service_code
        )
    };
    for c in changes {
        body += &format!("  {} {}: {} -> {}\n", c.operation, c.target, c.old, c.new);
    }
    (subject, body)
}

fn webhook_body(l: &LbDomain, accounts: &[NoticeAccount], changes: &[&StateChange], now: Timestamp) -> Value {
    json!({
        "event": "lb_domain_state_changed",
        "time": now.to_string(),
        "lb_domain": {"id": l.public_id, "name": l.name, "service_code": l.service_code},
        "changes": changes.iter().map(|c| json!({
            "operation": c.operation, "target": c.target, "old": c.old, "new": c.new,
        })).collect::<Vec<_>>(),
        "notice_accounts": accounts.iter().map(|a| json!({
            "resource_name": a.resource_name,
            "name": a.name,
            "lang": a.lang,
            "mail": a.mail,
            "phone": {"country_code": a.phone_country, "number": a.phone_number},
        })).collect::<Vec<_>>(),
    })
}

/// Queues an operator alert (not a tenant's notification) for the webhook,
/// if one is configured: the `notify-deliver` service posts it at once and
/// retries it, never holding the caller.
pub fn operator_alert(s: &Control, body: Value) {
    if s.notify.settings.webhook.is_none() {
        return;
    }
    let now = tokio::time::Instant::now();
    s.notify.alerts.lock().expect("not poisoned").push((body, 0, now));
    s.notify.wake.notify_one();
}

/// Posts the operator alerts that are due; a failure is tried again after
/// [`backoff`], up to [`ALERT_ATTEMPTS`] times. Returns how many went.
async fn deliver_alerts(s: &Control) -> usize {
    let settings = &s.notify.settings;
    let Some(url) = settings.webhook.as_deref() else {
        return 0;
    };
    let now = tokio::time::Instant::now();
    let due: Vec<_> = {
        let mut alerts = s.notify.alerts.lock().expect("not poisoned");
        let (due, later) = std::mem::take(&mut *alerts)
            .into_iter()
            .partition(|(_, _, at)| *at <= now);
        *alerts = later;
        due
    };
    let mut delivered = 0;
    for (body, failed, _) in due {
        let sent = tokio::time::timeout(settings.timeout, post_json(settings, url, body.to_string())).await;
        let error = match sent {
            Ok(Ok(())) => {
                delivered += 1;
                continue;
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => "timed out".to_string(),
        };
        let failed = failed + 1;
        if failed >= ALERT_ATTEMPTS {
            tracing::error!(error = %error, attempts = failed, "operator alert not delivered; given up");
            continue;
        }
        tracing::warn!(error = %error, attempts = failed, "operator alert not delivered; tried again later");
        let at = tokio::time::Instant::now() + backoff(settings, i64::from(failed));
        s.notify.alerts.lock().expect("not poisoned").push((body, failed, at));
    }
    delivered
}

/// Starts the deliverer: every second, or at once when woken, it sends
/// what is due.
pub fn start(s: &Control) {
    let state = s.clone();
    s.supervisor.every(
        "notify-deliver",
        Duration::from_secs(1),
        Some(s.notify.wake.clone()),
        move |_| {
            let s = state.clone();
            async move {
                deliver_alerts(&s).await;
                deliver_due(&s).await.map(|_| ())
            }
        },
    );
}

/// Sends every due notification once; returns how many were delivered.
pub async fn deliver_due(s: &Control) -> Result<usize, platdns_store::StoreError> {
    let settings = &s.notify.settings;
    let due = s.store.due_notifications(s.clock.now(), 100).await?;
    let mut delivered = 0;
    for n in due {
        let outcome = match tokio::time::timeout(settings.timeout, send(settings, &n)).await {
            Ok(r) => r,
            Err(_) => Err("timed out".to_string()),
        };
        let now = s.clock.now();
        let attempts = n.attempts + 1;
        let retry_at = (outcome.is_err() && attempts < settings.max_attempts).then(|| {
            let delay = backoff(settings, attempts);
            now.checked_add(jiff::SignedDuration::try_from(delay).unwrap_or_default())
                .unwrap_or(now)
        });
        let status = match (&outcome, retry_at) {
            (Ok(()), _) => "success",
            (Err(_), Some(_)) => "retry",
            (Err(_), None) => "failure",
        };
        if let Err(e) = &outcome {
            tracing::warn!(id = n.id, channel = %n.channel, recipient = %n.recipient, error = %e, status, "notification not delivered");
        } else {
            delivered += 1;
        }
        s.store
            .notification_attempted(
                n.id,
                outcome.as_ref().map(|_| ()).map_err(String::as_str),
                retry_at,
                now,
            )
            .await?;
        if let Some(operation) = log_operation(&n) {
            let target = n.recipient_for_log();
            let event = Event {
                contract_id: n.contract_id,
                zone_id: None,
                lb_domain_id: None,
                log_type: "notification",
                operation,
                target: &target,
                status,
            };
            log_event(s, event).await?;
        }
    }
    Ok(delivered)
}

/// The delay before attempt `attempts + 1`: `first_delay` doubled per
/// failure so far, at most `max_delay`.
fn backoff(settings: &NotifySettings, attempts: i64) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1)).unwrap_or(u32::MAX).min(30);
    settings
        .first_delay
        .saturating_mul(1u32 << doublings)
        .min(settings.max_delay)
}

/// DPF's contract log operation for a delivery: mail, or the webhook that
/// carries phone targets; a webhook without phone numbers has no DPF name
/// and is only traced.
fn log_operation(n: &Notification) -> Option<&'static str> {
    match n.channel.as_str() {
        "mail" => Some("mail_notification"),
        "webhook" => {
            let v: Value = serde_json::from_str(&n.body).ok()?;
            let phones = v["notice_accounts"]
                .as_array()?
                .iter()
                .any(|a| a["phone"]["number"].as_str().is_some_and(|p| !p.is_empty()));
            phones.then_some("phone_notification")
        }
        _ => None,
    }
}

trait RecipientForLog {
    fn recipient_for_log(&self) -> String;
}

impl RecipientForLog for Notification {
    /// The log shows a mail address as is, a webhook as its host only
    /// (a URL may carry a secret).
    fn recipient_for_log(&self) -> String {
        match self.channel.as_str() {
            "webhook" => {
                // scheme://[userinfo@]host[:port]/...: the host alone.
                let rest = self.recipient.split_once("://").map_or("", |(_, r)| r);
                let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
                let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
                match host.strip_prefix('[') {
                    Some(v6) => v6.split(']').next().unwrap_or("").to_string(),
                    None => host.split(':').next().unwrap_or("").to_string(),
                }
            }
            _ => self.recipient.clone(),
        }
    }
}

async fn send(settings: &NotifySettings, n: &Notification) -> Result<(), String> {
    match n.channel.as_str() {
        "mail" => send_mail(settings, n).await,
        "webhook" => post_json(settings, &n.recipient, n.body.clone()).await,
        other => Err(format!("unknown channel {other}")),
    }
}

async fn send_mail(settings: &NotifySettings, n: &Notification) -> Result<(), String> {
    use lettre::message::header::ContentType;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let relay = settings.smtp_relay.as_deref().ok_or("no SMTP relay configured")?;
    let (host, port) = match relay.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| format!("bad relay port in {relay}"))?),
        None => (relay, 25),
    };
    let builder = if settings.smtp_starttls {
        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).map_err(|e| e.to_string())?
    } else {
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
    };
    let mailer = builder.port(port).timeout(Some(settings.timeout)).build();
    let message = Message::builder()
        .from(settings.smtp_from.parse().map_err(|e| format!("sender: {e}"))?)
        .to(n.recipient.parse().map_err(|e| format!("recipient: {e}"))?)
        .subject(n.subject.clone())
        .header(ContentType::TEXT_PLAIN)
        .body(n.body.clone())
        .map_err(|e| e.to_string())?;
    mailer.send(message).await.map(|_| ()).map_err(|e| e.to_string())
}

/// One JSON POST through the platform's HTTP(S) client (the monitor's);
/// any 2xx is delivered.
async fn post_json(settings: &NotifySettings, url: &str, body: String) -> Result<(), String> {
    let user_agent = concat!("platdns-notify/", env!("CARGO_PKG_VERSION"));
    match settings.http.post_json(url, body, user_agent).await? {
        200..=299 => Ok(()),
        status => Err(format!("webhook answered {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_up_to_the_bound() {
        let s = NotifySettings {
            first_delay: Duration::from_secs(10),
            max_delay: Duration::from_secs(60),
            ..NotifySettings::default()
        };
        let delays: Vec<u64> = (1..=6).map(|a| backoff(&s, a).as_secs()).collect();
        assert_eq!(delays, [10, 20, 40, 60, 60, 60]);
        assert_eq!(backoff(&s, i64::MAX).as_secs(), 60, "no overflow");
    }

    #[test]
    fn a_webhook_is_a_phone_notification_only_with_a_phone() {
        let n = |accounts: Value| Notification {
            id: 1,
            contract_id: 1,
            lb_domain_id: None,
            channel: "webhook".into(),
            recipient: "https://hooks.example/secret-path".into(),
            subject: String::new(),
            body: json!({"notice_accounts": accounts}).to_string(),
            attempts: 0,
        };
        let with = n(json!([{"phone": {"country_code": "81", "number": "0312345678"}}]));
        let without = n(json!([{"phone": {"country_code": "", "number": ""}}]));
        assert_eq!(log_operation(&with), Some("phone_notification"));
        assert_eq!(log_operation(&without), None);
        assert_eq!(
            with.recipient_for_log(),
            "hooks.example",
            "no path: it may hold a secret"
        );
        let at = |recipient: &str| Notification {
            recipient: recipient.into(),
            ..n(json!([]))
        };
        assert_eq!(at("https://user:pw@[::1]:8443/x?k=v").recipient_for_log(), "::1");
        assert_eq!(at("http://hooks.example:8080").recipient_for_log(), "hooks.example");
    }
}
