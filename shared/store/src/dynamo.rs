//! The single-table layout's plumbing: key attributes, error classification, and batch reads
//! and writes that finish what DynamoDB leaves unprocessed.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, DeleteRequest, KeysAndAttributes, PutRequest, TransactWriteItem, WriteRequest,
};
use shop_domain::{Cursor, CursorError};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

/// One DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// Partition key attribute.
pub const PK: &str = "pk";
/// Sort key attribute.
pub const SK: &str = "sk";
/// The general-purpose index's partition key attribute.
pub const GSI1PK: &str = "gsi1pk";
/// The general-purpose index's sort key attribute.
pub const GSI1SK: &str = "gsi1sk";
/// The general-purpose index.
pub const GSI1: &str = "gsi1";

/// Writes a batch asks for at most, and keys a batch read asks for at most.
const BATCH_WRITE_MAX: usize = 25;
const BATCH_GET_MAX: usize = 100;
/// How often unprocessed items are sent again before the call fails.
const BATCH_RETRIES: u32 = 8;

/// A failure of the table.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Throttled, timed out or unreachable: the request may be retried.
    #[error("the table is unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a fault to look into.
    #[error("the table refused the request: {0}")]
    Failed(String),
    /// An item did not have the shape the shop writes.
    #[error("an item cannot be read: {0}")]
    Corrupt(String),
}

impl<E, R> From<SdkError<E, R>> for StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    fn from(error: SdkError<E, R>) -> Self {
        let retryable = match &error {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
            SdkError::ServiceError(service) => matches!(
                service.err().code(),
                Some(
                    "ProvisionedThroughputExceededException"
                        | "ThrottlingException"
                        | "RequestLimitExceeded"
                        | "InternalServerError"
                        | "ServiceUnavailable"
                )
            ),
            _ => false,
        };
        let text = DisplayErrorContext(&error).to_string();
        if retryable {
            Self::Unavailable(text)
        } else {
            Self::Failed(text)
        }
    }
}

/// The outcome of a conditional write: `Ok(true)` when it was written, `Ok(false)` when its
/// condition did not hold (nothing written), the table's failure otherwise.
pub fn conditional<O, E, R>(result: Result<O, SdkError<E, R>>) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(true),
        Err(error)
            if error.as_service_error().and_then(ProvideErrorMetadata::code)
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(false)
        }
        Err(error) => Err(error.into()),
    }
}

impl From<serde_dynamo::Error> for StoreError {
    fn from(error: serde_dynamo::Error) -> Self {
        Self::Corrupt(error.to_string())
    }
}

/// One page of a listing (catalog, orders by status, returns, subscribers, ...).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Page<T> {
    /// The items of the page; a filtered page may hold fewer than the limit.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// A failure of a paged read (or of a catalog write).
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// The cursor does not belong to this listing.
    #[error(transparent)]
    Cursor(#[from] shop_domain::CursorError),
    /// The table failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ListError> for shop_platform::ApiError {
    fn from(error: ListError) -> Self {
        match error {
            ListError::Cursor(error) => Self::bad_request("invalid_cursor", error.to_string()),
            ListError::Store(error) => error.into(),
        }
    }
}

impl From<StoreError> for shop_platform::ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(cause) => Self::Upstream {
                service: "the shop's database",
                cause,
            },
            other => Self::Internal(other.to_string()),
        }
    }
}

/// A string attribute.
pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute.
pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A request the SDK's builder refused (a required field missing) as the table's failure.
pub fn build<T, E: std::fmt::Display>(result: Result<T, E>) -> Result<T, StoreError> {
    result.map_err(|e| StoreError::Failed(e.to_string()))
}

/// The key of an item.
pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

/// The primary key of a full item.
pub fn key_of(item: &Item) -> Item {
    [PK, SK]
        .into_iter()
        .filter_map(|name| item.get(name).map(|value| (name.to_owned(), value.clone())))
        .collect()
}

/// A string attribute of an item.
pub fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|value| value.as_s().ok()).map(String::as_str)
}

/// One item by key, read strongly consistent (a read that follows a write sees it).
pub async fn get_item(client: &Client, table: &str, key: Item) -> Result<Option<Item>, StoreError> {
    let output = client
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .consistent_read(true)
        .send()
        .await?;
    Ok(output.item)
}

/// Reads an item into `T`, leaving out the layout's own attributes (keys, index keys, TTL).
pub fn record<T: serde::de::DeserializeOwned>(mut item: Item) -> Result<T, StoreError> {
    for name in [PK, SK, GSI1PK, GSI1SK, "ttl"] {
        item.remove(name);
    }
    Ok(serde_dynamo::from_item(item)?)
}

/// Writes `items` in one transaction. `Ok(None)` when it committed; `Ok(Some(reasons))` when a
/// condition refused it (nothing written), `reasons[i]` saying why for item `i` (see
/// [`condition_failed`]). A cancellation no condition caused (a `TransactionConflict` with
/// another transaction on an item, throttling) is [`StoreError::Unavailable`]: the write did not
/// run, and retrying it may succeed; read as a refusal, it would look like a change of the items
/// that did not happen.
pub async fn transact(
    client: &Client,
    items: Vec<TransactWriteItem>,
) -> Result<Option<Vec<CancellationReason>>, StoreError> {
    let Err(error) = client
        .transact_write_items()
        .set_transact_items(Some(items))
        .send()
        .await
    else {
        return Ok(None);
    };
    match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
            let reasons = cancelled.cancellation_reasons();
            if reasons.iter().any(condition_failed) {
                return Ok(Some(reasons.to_vec()));
            }
            let codes: Vec<&str> = reasons.iter().filter_map(|r| r.code.as_deref()).collect();
            Err(StoreError::Unavailable(format!(
                "the transaction was cancelled without a failed condition: {}",
                codes.join(", ")
            )))
        }
        _ => Err(error.into()),
    }
}

/// Whether a cancelled transaction's item failed its own condition.
pub fn condition_failed(reason: &CancellationReason) -> bool {
    reason.code.as_deref() == Some("ConditionalCheckFailed")
}

/// A change to one item, for [`write_batch`].
#[derive(Debug, Clone)]
pub enum Write {
    /// Put the whole item.
    Put(Item),
    /// Delete the item with this key.
    Delete(Item),
}

/// Writes every change, 25 to a request, sending unprocessed ones again with backoff.
/// Not atomic: a caller that needs all-or-nothing uses a transaction.
pub async fn write_batch(client: &Client, table: &str, writes: Vec<Write>) -> Result<(), StoreError> {
    let requests: Vec<WriteRequest> = writes
        .into_iter()
        .map(|write| match write {
            Write::Put(item) => PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map(|put| WriteRequest::builder().put_request(put).build()),
            Write::Delete(key) => DeleteRequest::builder()
                .set_key(Some(key))
                .build()
                .map(|delete| WriteRequest::builder().delete_request(delete).build()),
        })
        .collect::<Result<_, _>>()
        .map_err(|error| StoreError::Failed(error.to_string()))?;
    for chunk in requests.chunks(BATCH_WRITE_MAX) {
        let mut pending = chunk.to_vec();
        for attempt in 0.. {
            let output = client.batch_write_item().request_items(table, pending).send().await?;
            pending = output
                .unprocessed_items
                .and_then(|mut unprocessed| unprocessed.remove(table))
                .unwrap_or_default();
            if pending.is_empty() {
                break;
            }
            if attempt >= BATCH_RETRIES {
                return Err(StoreError::Unavailable(format!(
                    "{} writes left unprocessed",
                    pending.len()
                )));
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
    }
    Ok(())
}

/// Reads the items with these keys, 100 to a request; missing items are simply absent.
pub async fn get_batch(client: &Client, table: &str, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
    read_batch(client, table, keys, false).await
}

/// As [`get_batch`], strongly consistent: what a write just before it wrote is read.
pub async fn get_batch_consistent(client: &Client, table: &str, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
    read_batch(client, table, keys, true).await
}

async fn read_batch(client: &Client, table: &str, keys: Vec<Item>, consistent: bool) -> Result<Vec<Item>, StoreError> {
    let mut found = Vec::new();
    for chunk in keys.chunks(BATCH_GET_MAX) {
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(chunk.to_vec()))
                .consistent_read(consistent)
                .build()
                .map_err(|error| StoreError::Failed(error.to_string()))?,
        );
        let mut attempt = 0;
        while let Some(request) = pending.take() {
            let output = client.batch_get_item().request_items(table, request).send().await?;
            found.extend(output.responses.and_then(|mut r| r.remove(table)).unwrap_or_default());
            pending = output
                .unprocessed_keys
                .and_then(|mut unprocessed| unprocessed.remove(table))
                .filter(|rest| !rest.keys.is_empty());
            if pending.is_some() {
                if attempt >= BATCH_RETRIES {
                    return Err(StoreError::Unavailable("reads left unprocessed".into()));
                }
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
        }
    }
    Ok(found)
}

/// The cursor for a page of a `gsi1` Query that ended at `key` (table and index key attributes).
pub fn index_cursor(key: &Item) -> Cursor {
    Cursor(
        key.iter()
            .filter_map(|(name, value)| Some((name.clone(), value.as_s().ok()?.clone())))
            .collect(),
    )
}

/// The start key a cursor names, if a page of the `gsi1` partition `partition` made it: a cursor
/// edited by hand can move within its listing but never out of it.
pub fn index_start_key(cursor: &Cursor, partition: &str) -> Result<Item, CursorError> {
    let names: BTreeSet<&str> = cursor.0.keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = [PK, SK, GSI1PK, GSI1SK].into_iter().collect();
    if names != expected || cursor.get(GSI1PK) != Some(partition) {
        return Err(CursorError);
    }
    Ok(cursor.0.iter().map(|(name, value)| (name.clone(), s(value))).collect())
}

/// One page of the `gsi1` partition `partition` (`limit` items from `cursor`), in sort-key
/// order or, unless `forward`, newest first; with the cursor of the next page, if any.
pub async fn index_page(
    client: &Client,
    table: &str,
    partition: &str,
    limit: shop_domain::PageLimit,
    cursor: Option<&Cursor>,
    forward: bool,
) -> Result<(Vec<Item>, Option<String>), ListError> {
    let start = cursor.map(|cursor| index_start_key(cursor, partition)).transpose()?;
    let output = client
        .query()
        .table_name(table)
        .index_name(GSI1)
        .key_condition_expression("#index = :partition")
        .expression_attribute_names("#index", GSI1PK)
        .expression_attribute_values(":partition", s(partition))
        .scan_index_forward(forward)
        .limit(i32::from(limit.get()))
        .set_exclusive_start_key(start)
        .send()
        .await
        .map_err(StoreError::from)?;
    let next = output
        .last_evaluated_key
        .map(|key| shop_platform::keys::seal_cursor(&index_cursor(&key)));
    Ok((output.items.unwrap_or_default(), next))
}

/// A `gsi1` sort key that orders by time: `at` (unix seconds, fixed width), then `id`. What
/// [`index_before`] reads.
pub fn time_key(at: i64, id: &str) -> AttributeValue {
    s(format!("{at:012}#{id}"))
}

/// A Query of the `gsi1` partition `partition` for the items whose sort key (a [`time_key`]) is
/// before `before`, oldest first: the caller adds its filter and sends it with [`older_items`].
pub fn index_before(
    client: &Client,
    table: &str,
    partition: &str,
    before: i64,
) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
    client
        .query()
        .table_name(table)
        .index_name(GSI1)
        .key_condition_expression("#index = :partition AND #sort < :before")
        .expression_attribute_names("#index", GSI1PK)
        .expression_attribute_names("#sort", GSI1SK)
        .expression_attribute_values(":partition", s(partition))
        .expression_attribute_values(":before", s(format!("{before:012}#")))
}

/// Pages of a Query [`older_items`] reads at most, a run's worth.
const OLDER_PAGES: usize = 10;

/// The items `query` finds, page after page until `limit` of them passed its filter (the
/// filter runs after each page is read, so one page may find none) or [`OLDER_PAGES`] were read.
pub async fn older_items(
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    limit: usize,
) -> Result<Vec<Item>, StoreError> {
    let mut found = Vec::new();
    let mut start = None;
    for _ in 0..OLDER_PAGES {
        let output = query.clone().set_exclusive_start_key(start).send().await?;
        found.extend(output.items.unwrap_or_default());
        start = output.last_evaluated_key;
        if found.len() >= limit || start.is_none() {
            break;
        }
    }
    found.truncate(limit);
    Ok(found)
}

/// The records [`older_items`] finds.
pub async fn older_records<T: serde::de::DeserializeOwned>(
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    limit: usize,
) -> Result<Vec<T>, StoreError> {
    older_items(query, limit).await?.into_iter().map(record).collect()
}

/// How many items the `gsi1` partition `partition` holds, counting at most `cap`: one Query
/// (`Select=COUNT`), with whether more are there.
pub async fn index_count(client: &Client, table: &str, partition: &str, cap: i32) -> Result<(u32, bool), StoreError> {
    let output = client
        .query()
        .table_name(table)
        .index_name(GSI1)
        .key_condition_expression("#index = :partition")
        .expression_attribute_names("#index", GSI1PK)
        .expression_attribute_values(":partition", s(partition))
        .select(aws_sdk_dynamodb::types::Select::Count)
        .limit(cap)
        .send()
        .await
        .map_err(StoreError::from)?;
    Ok((
        u32::try_from(output.count).unwrap_or(0),
        output.last_evaluated_key.is_some(),
    ))
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(25 * 2u64.pow(attempt.min(6)))
}
