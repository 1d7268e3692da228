//! What SES reported back about the shop's mail, counted per UTC day for the Today page: the
//! bounces (permanent: the address does not take mail) and the complaints (the reader marked it
//! spam). Campaign and transactional mail go through the same configuration set, so both are
//! counted, by the campaign function that reads the configuration set's events.
//!
//! `MAIL_EVENTS#DAY#<YYYY-MM-DD> / TOTAL` holds the day's `bounces` and `complaints` (like the
//! day's sales, `SALES#DAY#<day> / TOTAL`). SNS and SQS deliver an event at least once, so each
//! is counted in one transaction with its record, `MAIL_EVENT#<kind>#<SES message id> / EVENT`
//! (kept [`EVENT_TTL`]), written on condition that there is none: a redelivered event counts
//! nothing. Reading the last days is one BatchGetItem of their keys.

use crate::dynamo::{self, Item, PK, StoreError, build, key, n};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use serde::Serialize;
use std::time::Duration;

/// Seconds an event's record is kept: longer than SQS keeps a message (14 days at most), so a
/// message redriven from the dead-letter queue is still known.
pub const EVENT_TTL: i64 = 30 * 24 * 3600;

/// Tries at counting an event while other events' transactions hold the day's counter.
const COUNT_ATTEMPTS: u32 = 5;

/// What SES reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailEventKind {
    /// A permanent bounce.
    Bounce,
    /// A complaint.
    Complaint,
}

impl MailEventKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Bounce => "bounce",
            Self::Complaint => "complaint",
        }
    }

    /// The day counter's attribute.
    fn counter(self) -> &'static str {
        match self {
            Self::Bounce => "bounces",
            Self::Complaint => "complaints",
        }
    }
}

/// The bounces and complaints of some days, added up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MailEventCounts {
    /// The first day counted, `YYYY-MM-DD` (UTC).
    pub since: String,
    /// Permanent bounces.
    pub bounces: u64,
    /// Complaints.
    pub complaints: u64,
}

/// The day counters of SES's reports.
#[derive(Debug, Clone)]
pub struct MailEventStore {
    client: Client,
    table: String,
}

fn day_key(day: &str) -> Item {
    key(format!("MAIL_EVENTS#DAY#{day}"), "TOTAL")
}

fn event_key(kind: MailEventKind, message_id: &str) -> Item {
    key(format!("MAIL_EVENT#{}#{message_id}", kind.as_str()), "EVENT")
}

/// The UTC days of the `days` days up to and including the day of `now`, oldest first.
fn days_until(now: i64, days: u32) -> Vec<String> {
    (0..i64::from(days))
        .rev()
        .map(|back| crate::orders::fulfillment::day_of(now - back * 24 * 3600))
        .collect()
}

impl MailEventStore {
    /// The counters in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Counts SES's report `kind` of the mail `message_id` on the UTC day of `now`, once: true
    /// when counted now, false when it was counted before. One TransactWriteItems (tried again
    /// while other reports' transactions hold the day's counter).
    pub async fn count(&self, kind: MailEventKind, message_id: &str, now: i64) -> Result<bool, StoreError> {
        let day = crate::orders::fulfillment::day_of(now);
        for attempt in 0..COUNT_ATTEMPTS {
            let mut record = event_key(kind, message_id);
            record.insert("day".to_owned(), dynamo::s(&day));
            record.insert("ttl".to_owned(), n(now + EVENT_TTL));
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(record))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK);
            let counter = Update::builder()
                .table_name(&self.table)
                .set_key(Some(day_key(&day)))
                .update_expression("ADD #count :one")
                .expression_attribute_names("#count", kind.counter())
                .expression_attribute_values(":one", n(1));
            let items = vec![
                TransactWriteItem::builder().put(build(put.build())?).build(),
                TransactWriteItem::builder().update(build(counter.build())?).build(),
            ];
            let Some(reasons) = dynamo::transact(&self.client, items).await? else {
                return Ok(true);
            };
            if reasons.first().is_some_and(dynamo::condition_failed) {
                return Ok(false);
            }
            // Another report's transaction held an item: wait a little and try again.
            tokio::time::sleep(Duration::from_millis(20 * 2u64.pow(attempt))).await;
        }
        Err(StoreError::Unavailable(format!(
            "the {} of mail {message_id} was not counted: the day's counter stayed busy",
            kind.as_str()
        )))
    }

    /// The bounces and complaints of the `days` UTC days up to and including the day of `now`:
    /// one BatchGetItem.
    pub async fn last_days(&self, now: i64, days: u32) -> Result<MailEventCounts, StoreError> {
        let days = days_until(now, days.max(1));
        let keys = days.iter().map(|day| day_key(day)).collect();
        let items = dynamo::get_batch(&self.client, &self.table, keys).await?;
        let number = |item: &Item, name: &str| {
            item.get(name)
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok(MailEventCounts {
            since: days.first().cloned().unwrap_or_default(),
            bounces: items.iter().map(|item| number(item, "bounces")).sum(),
            complaints: items.iter().map(|item| number(item, "complaints")).sum(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_seven_days_end_with_today_across_a_month_end() {
        // 2026-12-01T10:00:00Z.
        let now = 1_796_119_200;
        assert_eq!(
            days_until(now, 7),
            [
                "2026-11-25",
                "2026-11-26",
                "2026-11-27",
                "2026-11-28",
                "2026-11-29",
                "2026-11-30",
                "2026-12-01"
            ]
        );
        assert_eq!(days_until(now, 1), ["2026-12-01"]);
    }
}
