//! Support messages in the table: `SUPPORT#<reference> / MESSAGE`, listed newest first on `gsi1`
//! (`SUPPORT#messages`). A message is stored in the same transaction that counts it against its
//! rate limits ([`crate::rate_limits`]): a refused message counts nowhere and is not stored, an
//! accepted one counts everywhere.

use crate::dynamo::{self, GSI1PK, GSI1SK, Item, PK, StoreError, build, key, s};
use crate::dynamo::{ListError, Page};
use crate::rate_limits::{self, Counted, Limited};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use serde::{Deserialize, Serialize};
use shop_domain::{Cursor, PageLimit};

const LISTING: &str = "SUPPORT#messages";

/// One message to support, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportMessage {
    /// The reference the customer is given (`SUP-…`), also its key.
    pub reference: String,
    /// Who wrote, and where replies go.
    pub email: String,
    /// The order the message names, only when its token opened it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// An order id given without a token that opens it (shown to the merchant as unverified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unverified_order_id: Option<String>,
    /// One line.
    pub subject: String,
    /// The text.
    pub body: String,
    /// Unix seconds.
    pub received_at: i64,
    /// The API request that brought it (for the logs).
    pub request_id: String,
}

/// What storing a message came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Stored and counted.
    Stored,
    /// Over the limit of `scope`: nothing stored or counted; try again in `retry_after` seconds.
    Limited {
        /// The limit that refused it.
        scope: &'static str,
        /// Seconds until its window ends.
        retry_after: i64,
    },
    /// Another message has this reference (a 40-bit collision): pick another and try again.
    ReferenceTaken,
}

/// The support inbox.
#[derive(Debug, Clone)]
pub struct SupportStore {
    client: Client,
    table: String,
}

fn message_key(reference: &str) -> Item {
    key(format!("SUPPORT#{reference}"), "MESSAGE")
}

impl SupportStore {
    /// The inbox in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Stores `message` if every limit in `counted` still allows one more at `now`: one
    /// TransactWriteItems.
    pub async fn admit(
        &self,
        message: &SupportMessage,
        counted: &[Counted],
        now: i64,
    ) -> Result<Admission, StoreError> {
        let mut items = counted
            .iter()
            .map(|count| count.counter(&self.table, now))
            .collect::<Result<Vec<_>, _>>()?;
        let mut item: Item = serde_dynamo::to_item(message)?;
        item.extend(message_key(&message.reference));
        item.insert(GSI1PK.to_owned(), s(LISTING));
        item.insert(
            GSI1SK.to_owned(),
            s(format!("{:012}#{}", message.received_at, message.reference)),
        );
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build();
        items.push(TransactWriteItem::builder().put(build(put)?).build());
        let Some(reasons) = dynamo::transact(&self.client, items).await? else {
            return Ok(Admission::Stored);
        };
        if let Some(Limited { scope, retry_after }) = rate_limits::refusal(counted, &reasons, now) {
            return Ok(Admission::Limited { scope, retry_after });
        }
        if reasons.last().is_some_and(dynamo::condition_failed) {
            return Ok(Admission::ReferenceTaken);
        }
        Err(StoreError::Failed(format!(
            "support message {} not stored: {reasons:?}",
            message.reference
        )))
    }

    /// The message with `reference`.
    pub async fn get(&self, reference: &str) -> Result<Option<SupportMessage>, StoreError> {
        let item = dynamo::get_item(&self.client, &self.table, message_key(reference)).await?;
        item.map(dynamo::record).transpose()
    }

    /// Messages newest first: one Query on `gsi1`.
    pub async fn newest(&self, limit: PageLimit, cursor: Option<&Cursor>) -> Result<Page<SupportMessage>, ListError> {
        let (items, next_cursor) = dynamo::index_page(&self.client, &self.table, LISTING, limit, cursor, false).await?;
        let items = items
            .into_iter()
            .map(dynamo::record)
            .collect::<Result<Vec<SupportMessage>, _>>()?;
        Ok(Page { items, next_cursor })
    }
}
