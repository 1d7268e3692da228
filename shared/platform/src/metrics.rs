//! The shop's business metrics, as CloudWatch embedded metric format (EMF) log lines: one JSON
//! object per line on stdout, which CloudWatch Logs turns into metrics with no API call and no
//! extra latency. Each metric is emitted where the change it counts is committed, once.
//!
//! A line carries the metric's value, its dimension when it has one (a refusal's `Reason`), and
//! the ids that let an engineer go from a graph to the logs of one order (`order_id`,
//! `request_id`); the namespace is the stack's (`METRICS_NAMESPACE`, set by the template).

use serde_json::{Map, Value, json};
use std::io::Write;

/// The namespace when `METRICS_NAMESPACE` is not set.
pub const DEFAULT_NAMESPACE: &str = "Shop";

/// Every metric the shop emits. The dashboard in template.yaml shows each (a test holds them
/// together).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// An order was placed: its stock is held and its payment created (checkout).
    OrdersPlaced,
    /// The placed order's total, in the currency's minor unit.
    PlacedValue,
    /// An order's payment succeeded and the order is paid (the webhook).
    OrdersPaid,
    /// The paid order's total, in minor units.
    PaidValue,
    /// An order was cancelled: its hold ended unpaid, or it was cancelled before shipping.
    OrdersCancelled,
    /// The shop refunded money (a cancelled order, a merchant refund, a received return).
    Refunds,
    /// What that refund returned, in minor units.
    RefundedValue,
    /// A payment attempt failed (a declined card, a failed authentication).
    PaymentFailures,
    /// A checkout was refused, by `Reason` (the problem's code).
    CheckoutRefusals,
    /// A checkout was refused because stock was short: an oversell prevented.
    OversellRefusals,
    /// A webhook delivery no configured secret signed (or signed too long ago).
    WebhookSignatureFailures,
    /// A transactional mail was sent.
    MailsSent,
    /// A transactional mail could not be sent (it is retried, then dead-lettered).
    MailsFailed,
    /// A mail bounced for good.
    MailBounces,
    /// A recipient marked a mail as spam.
    MailComplaints,
    /// A campaign mail was sent to a subscriber.
    CampaignMailsSent,
    /// A campaign mail SES refused for good (after its retries).
    CampaignMailsFailed,
    /// An instance of a function started (by `Function`): Lambda's cold starts.
    ColdStarts,
    /// The sweeper found owed work and did it (by `Work`: `refund`, `fulfilment`).
    Swept,
    /// Owed work the sweeper found failed again (by `Work`); the next run retries it.
    SweepFailures,
    /// Reconciliation found Stripe ahead of the shop and applied Stripe's event (by `Kind`:
    /// `paid`, `refunded`).
    Reconciled,
    /// Reconciliation found the shop and Stripe disagreeing in a way it does not repair (by
    /// `Kind`): a person must look.
    ReconciliationMismatches,
}

/// How CloudWatch reads a metric's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Occurrences.
    Count,
    /// An amount of money in minor units (CloudWatch has no currency unit).
    None,
}

impl Metric {
    /// All of them, for the dashboard's test.
    pub const ALL: [Metric; 22] = [
        Metric::OrdersPlaced,
        Metric::PlacedValue,
        Metric::OrdersPaid,
        Metric::PaidValue,
        Metric::OrdersCancelled,
        Metric::Refunds,
        Metric::RefundedValue,
        Metric::PaymentFailures,
        Metric::CheckoutRefusals,
        Metric::OversellRefusals,
        Metric::WebhookSignatureFailures,
        Metric::MailsSent,
        Metric::MailsFailed,
        Metric::MailBounces,
        Metric::MailComplaints,
        Metric::CampaignMailsSent,
        Metric::CampaignMailsFailed,
        Metric::ColdStarts,
        Metric::Swept,
        Metric::SweepFailures,
        Metric::Reconciled,
        Metric::ReconciliationMismatches,
    ];

    /// Its name in CloudWatch.
    pub fn name(self) -> &'static str {
        match self {
            Metric::OrdersPlaced => "OrdersPlaced",
            Metric::PlacedValue => "PlacedValue",
            Metric::OrdersPaid => "OrdersPaid",
            Metric::PaidValue => "PaidValue",
            Metric::OrdersCancelled => "OrdersCancelled",
            Metric::Refunds => "Refunds",
            Metric::RefundedValue => "RefundedValue",
            Metric::PaymentFailures => "PaymentFailures",
            Metric::CheckoutRefusals => "CheckoutRefusals",
            Metric::OversellRefusals => "OversellRefusals",
            Metric::WebhookSignatureFailures => "WebhookSignatureFailures",
            Metric::MailsSent => "MailsSent",
            Metric::MailsFailed => "MailsFailed",
            Metric::MailBounces => "MailBounces",
            Metric::MailComplaints => "MailComplaints",
            Metric::CampaignMailsSent => "CampaignMailsSent",
            Metric::CampaignMailsFailed => "CampaignMailsFailed",
            Metric::ColdStarts => "ColdStarts",
            Metric::Swept => "Swept",
            Metric::SweepFailures => "SweepFailures",
            Metric::Reconciled => "Reconciled",
            Metric::ReconciliationMismatches => "ReconciliationMismatches",
        }
    }

    /// Its unit.
    pub fn unit(self) -> Unit {
        match self {
            Metric::PlacedValue | Metric::PaidValue | Metric::RefundedValue => Unit::None,
            _ => Unit::Count,
        }
    }

    /// The dimension its values are split by, if any.
    pub fn dimension(self) -> Option<&'static str> {
        match self {
            Metric::CheckoutRefusals => Some("Reason"),
            Metric::ColdStarts => Some("Function"),
            Metric::Swept | Metric::SweepFailures => Some("Work"),
            Metric::Reconciled | Metric::ReconciliationMismatches => Some("Kind"),
            _ => None,
        }
    }

    /// One occurrence of it.
    pub fn once(self) -> Emission {
        Emission::new().add(self, 1)
    }

    /// `value` of it.
    pub fn of(self, value: i64) -> Emission {
        Emission::new().add(self, value)
    }
}

/// One EMF line in the making: metrics (sharing one dimension set), their dimension's value and
/// the ids that go with them.
#[derive(Debug, Clone, Default)]
pub struct Emission {
    values: Vec<(Metric, i64)>,
    dimension: Option<(&'static str, String)>,
    properties: Map<String, Value>,
}

impl Emission {
    fn new() -> Self {
        Self::default()
    }

    /// With `value` of `metric` too.
    pub fn add(mut self, metric: Metric, value: i64) -> Self {
        self.values.push((metric, value));
        self
    }

    /// With the value of the metrics' dimension (`Reason` of a refusal).
    pub fn dimension(mut self, value: impl Into<String>) -> Self {
        if let Some(name) = self.values.iter().find_map(|(metric, _)| metric.dimension()) {
            self.dimension = Some((name, value.into()));
        }
        self
    }

    /// With a property: an id to find the logs by (`order_id`, `request_id`), not a dimension.
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.properties.insert(name.to_owned(), Value::String(value.into()));
        self
    }

    /// The EMF document, at `timestamp_ms`, in `namespace`.
    pub fn document(&self, namespace: &str, timestamp_ms: i64) -> Value {
        let dimensions: Vec<&str> = self.dimension.iter().map(|(name, _)| *name).collect();
        let definitions: Vec<Value> = self
            .values
            .iter()
            .map(|(metric, _)| {
                let unit = match metric.unit() {
                    Unit::Count => "Count",
                    Unit::None => "None",
                };
                json!({"Name": metric.name(), "Unit": unit})
            })
            .collect();
        let mut document = self.properties.clone();
        document.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [dimensions],
                    "Metrics": definitions,
                }],
            }),
        );
        if let Some((name, value)) = &self.dimension {
            document.insert((*name).to_owned(), Value::String(value.clone()));
        }
        for (metric, value) in &self.values {
            document.insert(metric.name().to_owned(), Value::from(*value));
        }
        Value::Object(document)
    }

    /// Writes the line to stdout, where Lambda sends it to CloudWatch Logs. A metric that
    /// cannot be written is lost, never the work it counts.
    pub fn emit(self) {
        let namespace = std::env::var("METRICS_NAMESPACE")
            .ok()
            .filter(|namespace| !namespace.is_empty())
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        let mut line = self.document(&namespace, now_ms).to_string();
        line.push('\n');
        // One write of the whole line under stdout's lock: lines of concurrent requests never mix.
        let _ = std::io::stdout().lock().write_all(line.as_bytes());
    }
}

/// An order's cancellation, counted where it commits (once: its condition holds once).
pub fn cancelled(order_id: &str, reason: &str) {
    Metric::OrdersCancelled
        .once()
        .with("order_id", order_id)
        .with("reason", reason)
        .emit();
}

/// A refund the shop issued (a cancellation's, a merchant's, a return's, a late payment's),
/// counted where it is first recorded (each record is written once).
pub fn refunded(order_id: &str, amount: i64, refund_id: &str) {
    Metric::Refunds
        .once()
        .add(Metric::RefundedValue, amount)
        .with("order_id", order_id)
        .with("refund_id", refund_id)
        .emit();
}

/// Counts this instance's start, as Lambda names the function (nothing outside Lambda).
pub fn cold_start() {
    if let Ok(function) = std::env::var("AWS_LAMBDA_FUNCTION_NAME") {
        Metric::ColdStarts.once().dimension(function).emit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_names_its_metrics_their_units_and_values_at_the_top_level() {
        let document = Metric::OrdersPlaced
            .once()
            .add(Metric::PlacedValue, 4_250)
            .with("order_id", "ord_1")
            .document("shop-test", 1_700_000_000_000);
        assert_eq!(
            document,
            json!({
                "_aws": {
                    "Timestamp": 1_700_000_000_000_i64,
                    "CloudWatchMetrics": [{
                        "Namespace": "shop-test",
                        "Dimensions": [[]],
                        "Metrics": [
                            {"Name": "OrdersPlaced", "Unit": "Count"},
                            {"Name": "PlacedValue", "Unit": "None"},
                        ],
                    }],
                },
                "OrdersPlaced": 1,
                "PlacedValue": 4_250,
                "order_id": "ord_1",
            })
        );
    }

    #[test]
    fn a_refusal_is_split_by_its_reason_and_other_metrics_take_no_dimension() {
        let refusal = Metric::CheckoutRefusals
            .once()
            .dimension("insufficient_stock")
            .document("s", 0);
        assert_eq!(
            refusal["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Reason"]])
        );
        assert_eq!(refusal["Reason"], "insufficient_stock");
        let paid = Metric::OrdersPaid.once().dimension("ignored").document("s", 0);
        assert_eq!(paid["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([[]]));
        assert!(paid.get("Reason").is_none());
    }

    #[test]
    fn every_metric_has_a_distinct_name() {
        let mut names: Vec<&str> = Metric::ALL.iter().map(|metric| metric.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Metric::ALL.len());
    }
}
