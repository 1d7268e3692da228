//! How often one writer may do something: fixed windows counted in the table,
//! `RATE#<scope>#<subject> / W#<window>`, each counter conditional on being under its maximum
//! and forgotten by TTL after its window. Counters of several limits go into one transaction, so
//! a refused attempt counts nowhere and an admitted one counts everywhere.

use crate::dynamo::{self, StoreError, build, key, n};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use shop_domain::order::Email;
use shop_domain::support::RateLimit;
use shop_platform::{ApiError, secrets};

/// A limit an attempt counts against: `limit` per window for one `scope` (`email`, `source`,
/// `shop`) and `subject` (a hash of the address, the source IP, the whole shop).
#[derive(Debug, Clone)]
pub struct Counted {
    /// What kind of writer is counted.
    pub scope: &'static str,
    /// Which writer.
    pub subject: String,
    /// How many per window.
    pub limit: RateLimit,
}

/// An attempt over a limit: nothing was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// The limit that refused it.
    pub scope: &'static str,
    /// Seconds until its window ends (`Retry-After`).
    pub retry_after: i64,
}

impl Counted {
    /// `max` per hour of one mailbox (the `+tags` of one address count together), keyed by a
    /// hash so the table holds no address.
    pub fn per_mailbox(scope: &'static str, email: &Email, max: u32) -> Self {
        Self {
            scope,
            subject: secrets::token_hash(&email.mailbox()),
            limit: RateLimit::hourly(max),
        }
    }

    /// `max` per hour of one source IP.
    pub fn per_source(scope: &'static str, source_ip: String, max: u32) -> Self {
        Self {
            scope,
            subject: source_ip,
            limit: RateLimit::hourly(max),
        }
    }

    /// The transaction item that counts one more attempt at `now`, failing when the window is full.
    pub(crate) fn counter(&self, table: &str, now: i64) -> Result<TransactWriteItem, StoreError> {
        let window = self.limit.window(now);
        let update = Update::builder()
            .table_name(table)
            .set_key(Some(key(
                format!("RATE#{}#{}", self.scope, self.subject),
                format!("W#{}", window.index),
            )))
            .update_expression("ADD #count :one SET #ttl = :ttl")
            .condition_expression("attribute_not_exists(#count) OR #count < :max")
            .expression_attribute_names("#count", "count")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(self.limit.max))
            .expression_attribute_values(":ttl", n(window.ends_at))
            .build();
        Ok(TransactWriteItem::builder().update(build(update)?).build())
    }
}

impl Limited {
    /// The 429 (`rate_limited`, `Retry-After`) for a caller who asked for `what` (`checkouts`,
    /// `sign-ups`) too often.
    pub fn refused(self, what: &str) -> ApiError {
        tracing::warn!(
            scope = self.scope,
            retry_after = self.retry_after,
            what,
            "refused: rate limit"
        );
        ApiError::TooManyRequests {
            detail: format!("too many {what} for now; try again in {} seconds", self.retry_after),
            retry_after: u64::try_from(self.retry_after).unwrap_or(1),
        }
    }
}

/// Of the cancellation `reasons` of a transaction whose first items were `counted`'s counters,
/// the limit that refused it, if one did.
pub(crate) fn refusal(
    counted: &[Counted],
    reasons: &[aws_sdk_dynamodb::types::CancellationReason],
    now: i64,
) -> Option<Limited> {
    counted
        .iter()
        .zip(reasons)
        .find_map(|(count, reason)| dynamo::condition_failed(reason).then_some(count))
        .map(|count| Limited {
            scope: count.scope,
            retry_after: count.limit.window(now).retry_after,
        })
}

/// Limits that count nothing but attempts (the order lookup's per-source limit).
#[derive(Debug, Clone)]
pub struct RateLimiter {
    client: Client,
    table: String,
}

impl RateLimiter {
    /// Counters in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Counts one attempt against every limit in `counted`, or none when one is full: one
    /// TransactWriteItems.
    pub async fn admit(&self, counted: &[Counted], now: i64) -> Result<Result<(), Limited>, StoreError> {
        let items = counted
            .iter()
            .map(|count| count.counter(&self.table, now))
            .collect::<Result<Vec<_>, _>>()?;
        let Some(reasons) = dynamo::transact(&self.client, items).await? else {
            return Ok(Ok(()));
        };
        match refusal(counted, &reasons, now) {
            Some(limited) => Ok(Err(limited)),
            None => Err(StoreError::Failed(format!("rate counters not written: {reasons:?}"))),
        }
    }
}
