//! How many addresses the list holds, by status and by source: read by Query from the two
//! `gsi1` partitions every subscriber item is in one of (`AUDIENCE#all` once confirmed,
//! `SUBSCRIBERS#unconfirmed` before), at most [`COUNT_QUERIES_MAX`] requests.
//!
//! The table keeps no counters: every sign-up, confirmation and unsubscribe would have to
//! update one hot item in its transaction, and concurrent sign-ups would then cancel each other.
//! A count therefore reads the list; past the bound it says it counted only part.

use super::*;
use std::collections::BTreeMap;

/// Most Query requests one count makes (each reads up to 1 MB of subscribers, some 3,000).
pub const COUNT_QUERIES_MAX: usize = 10;

/// The list counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SubscriberCounts {
    /// Addresses per status.
    pub by_status: BTreeMap<SubscriberStatus, u64>,
    /// Addresses per source where they signed up first, then per status.
    pub by_source: BTreeMap<String, BTreeMap<SubscriberStatus, u64>>,
    /// Addresses counted.
    pub total: u64,
    /// Whether every address was counted (`false`: the bound was reached, these are the
    /// counts of the part read).
    pub complete: bool,
}

/// What a count reads of a subscriber item.
#[derive(Deserialize)]
struct Counted {
    status: SubscriberStatus,
    #[serde(default)]
    source: String,
}

impl SubscriberCounts {
    fn add(&mut self, counted: Counted) {
        *self.by_status.entry(counted.status).or_default() += 1;
        *self
            .by_source
            .entry(counted.source)
            .or_default()
            .entry(counted.status)
            .or_default() += 1;
        self.total += 1;
    }
}

impl MarketingStore {
    /// The list counted by status and source, in at most [`COUNT_QUERIES_MAX`] Queries.
    pub async fn subscriber_counts(&self) -> Result<SubscriberCounts, StoreError> {
        let mut counts = SubscriberCounts {
            complete: true,
            ..SubscriberCounts::default()
        };
        let mut queries = 0;
        for partition in [audience_partition("all"), UNCONFIRMED.to_owned()] {
            let mut start = None;
            loop {
                if queries == COUNT_QUERIES_MAX {
                    counts.complete = false;
                    return Ok(counts);
                }
                queries += 1;
                let output = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name(GSI1)
                    .key_condition_expression("#index = :partition")
                    .expression_attribute_names("#index", GSI1PK)
                    .expression_attribute_values(":partition", s(&partition))
                    .projection_expression("#status, #source")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_names("#source", "source")
                    .set_exclusive_start_key(start)
                    .send()
                    .await?;
                for item in output.items() {
                    counts.add(serde_dynamo::from_item(item.clone())?);
                }
                start = output.last_evaluated_key;
                if start.is_none() {
                    break;
                }
            }
        }
        Ok(counts)
    }
}
