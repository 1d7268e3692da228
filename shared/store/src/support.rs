//! Support messages in the table: `SUPPORT#<reference> / MESSAGE`, listed newest first on `gsi1`
//! (`SUPPORT#messages`). A message is stored in the same transaction that counts it against its
//! rate limits ([`crate::rate_limits`]): a refused message counts nowhere and is not stored, an
//! accepted one counts everywhere.
//!
//! The merchant's replies are kept on the message (`replies`, appended with a condition on how
//! many there were, so two replies never take one number); a reply's id is its message's
//! reference and its number (`SUP-…-1`), which is all the mail sender needs to find it. Until the
//! merchant marks a message answered, a summary of it sits beside it as `SUPPORT#<reference> /
//! UNANSWERED` on `gsi1` (`SUPPORT#unanswered`, newest first), which is what the inbox's
//! "unanswered" list reads; marking it answered takes the summary out of that index.

use crate::dynamo::{self, GSI1PK, GSI1SK, Item, PK, StoreError, build, key, n, s};
use crate::dynamo::{ListError, Page};
use crate::rate_limits::{self, Counted, Limited};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use serde::{Deserialize, Serialize};
use shop_domain::{Cursor, PageLimit};

const LISTING: &str = "SUPPORT#messages";
const UNANSWERED: &str = "SUPPORT#unanswered";

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
    /// The merchant's replies, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replies: Vec<SupportReply>,
    /// Unix seconds, once the merchant marked it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<i64>,
    /// Who marked it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_by: Option<String>,
}

/// One reply of the merchant to a message, mailed to its writer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportReply {
    /// `<reference>-<number>` (see [`reply_id`]).
    pub reply_id: String,
    /// Who wrote it (a staff member's address, or the API caller).
    pub by: String,
    /// Unix seconds.
    pub sent_at: i64,
    /// The text.
    pub body: String,
}

/// What the unanswered list shows of a message: who wrote, about what, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportSummary {
    /// The message's reference.
    pub reference: String,
    /// Who wrote.
    pub email: String,
    /// The verified order, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// An order id given without its token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unverified_order_id: Option<String>,
    /// One line.
    pub subject: String,
    /// Unix seconds.
    pub received_at: i64,
}

impl From<&SupportMessage> for SupportSummary {
    fn from(message: &SupportMessage) -> Self {
        Self {
            reference: message.reference.clone(),
            email: message.email.clone(),
            order_id: message.order_id.clone(),
            unverified_order_id: message.unverified_order_id.clone(),
            subject: message.subject.clone(),
            received_at: message.received_at,
        }
    }
}

/// The id of the `number`th reply (from 1) to the message `reference`.
pub fn reply_id(reference: &str, number: usize) -> String {
    format!("{reference}-{number}")
}

/// The message reference and the number a reply id names, when it is one.
pub fn parse_reply_id(reply_id: &str) -> Option<(&str, usize)> {
    let (reference, number) = reply_id.rsplit_once('-')?;
    let number: usize = number.parse().ok().filter(|n| *n > 0)?;
    (reference.starts_with("SUP-") && reference.len() > 4).then_some((reference, number))
}

/// What marking a message answered came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answered {
    /// Marked now.
    Now,
    /// It was marked before (by someone else, or an earlier try).
    Before,
    /// No such message.
    Missing,
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

fn unanswered_key(reference: &str) -> Item {
    key(format!("SUPPORT#{reference}"), "UNANSWERED")
}

fn listed(message: &SupportMessage) -> String {
    format!("{:012}#{}", message.received_at, message.reference)
}

impl SupportStore {
    /// The inbox in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Stores `message` (and its place in the unanswered list) if every limit in `counted` still
    /// allows one more at `now`: one TransactWriteItems.
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
        item.insert(GSI1SK.to_owned(), s(listed(message)));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build();
        items.push(TransactWriteItem::builder().put(build(put)?).build());
        let mut summary: Item = serde_dynamo::to_item(SupportSummary::from(message))?;
        summary.extend(unanswered_key(&message.reference));
        summary.insert(GSI1PK.to_owned(), s(UNANSWERED));
        summary.insert(GSI1SK.to_owned(), s(listed(message)));
        let put = Put::builder().table_name(&self.table).set_item(Some(summary)).build();
        items.push(TransactWriteItem::builder().put(build(put)?).build());
        let Some(reasons) = dynamo::transact(&self.client, items).await? else {
            return Ok(Admission::Stored);
        };
        if let Some(Limited { scope, retry_after }) = rate_limits::refusal(counted, &reasons, now) {
            return Ok(Admission::Limited { scope, retry_after });
        }
        if reasons.iter().rev().nth(1).is_some_and(dynamo::condition_failed) {
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

    /// Messages not yet marked answered, newest first: one Query on `gsi1`.
    pub async fn unanswered(
        &self,
        limit: PageLimit,
        cursor: Option<&Cursor>,
    ) -> Result<Page<SupportSummary>, ListError> {
        let (items, next_cursor) =
            dynamo::index_page(&self.client, &self.table, UNANSWERED, limit, cursor, false).await?;
        let items = items
            .into_iter()
            .map(dynamo::record)
            .collect::<Result<Vec<SupportSummary>, _>>()?;
        Ok(Page { items, next_cursor })
    }

    /// How many messages wait for an answer, counting at most `cap`, and whether more do: one
    /// Query (`Select=COUNT`).
    pub async fn count_unanswered(&self, cap: i32) -> Result<(u32, bool), StoreError> {
        dynamo::index_count(&self.client, &self.table, UNANSWERED, cap).await
    }

    /// Appends `reply` to `message` as it was read: one UpdateItem, conditional on the message
    /// still having as many replies. False when another reply came first (read and try again).
    pub async fn add_reply(&self, message: &SupportMessage, reply: &SupportReply) -> Result<bool, StoreError> {
        let entry = serde_dynamo::to_attribute_value::<_, aws_sdk_dynamodb::types::AttributeValue>(reply)?;
        let before = message.replies.len();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(message_key(&message.reference)))
            .update_expression("SET #replies = list_append(if_not_exists(#replies, :empty), :new)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#replies", "replies")
            .expression_attribute_values(":new", aws_sdk_dynamodb::types::AttributeValue::L(vec![entry]))
            .expression_attribute_values(":empty", aws_sdk_dynamodb::types::AttributeValue::L(Vec::new()));
        update = if before == 0 {
            update.condition_expression("attribute_exists(#pk) AND attribute_not_exists(#replies)")
        } else {
            update
                .condition_expression("attribute_exists(#pk) AND size(#replies) = :count")
                .expression_attribute_values(":count", n(before))
        };
        dynamo::conditional(update.send().await)
    }

    /// The reply `reply_id` with its message.
    pub async fn reply(&self, reply_id: &str) -> Result<Option<(SupportMessage, SupportReply)>, StoreError> {
        let Some((reference, _)) = parse_reply_id(reply_id) else {
            return Ok(None);
        };
        let Some(message) = self.get(reference).await? else {
            return Ok(None);
        };
        let reply = message.replies.iter().find(|r| r.reply_id == reply_id).cloned();
        Ok(reply.map(|reply| (message, reply)))
    }

    /// Marks the message `reference` answered by `by` at `now`, and takes it out of the
    /// unanswered list: two UpdateItems (the second also when it was marked before, so a try
    /// that stopped between them is finished by the next).
    pub async fn mark_answered(&self, reference: &str, by: &str, now: i64) -> Result<Answered, StoreError> {
        let marked = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(message_key(reference)))
            .update_expression("SET answered_at = :now, answered_by = :by")
            .condition_expression("attribute_exists(#pk) AND attribute_not_exists(answered_at)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":by", s(by))
            .send()
            .await;
        let outcome = if dynamo::conditional(marked)? {
            Answered::Now
        } else if self.get(reference).await?.is_some() {
            Answered::Before
        } else {
            return Ok(Answered::Missing);
        };
        let unlisted = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(unanswered_key(reference)))
            .update_expression("REMOVE #index, #order SET answered_at = :now")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#index", GSI1PK)
            .expression_attribute_names("#order", GSI1SK)
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        // No summary: a message stored before the list existed, or one taken out before.
        dynamo::conditional(unlisted)?;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_id_names_its_message_and_number() {
        let id = reply_id("SUP-7KQ2M9XD", 3);
        assert_eq!(id, "SUP-7KQ2M9XD-3");
        assert_eq!(parse_reply_id(&id), Some(("SUP-7KQ2M9XD", 3)));
        for bad in [
            "SUP-7KQ2M9XD",
            "SUP-7KQ2M9XD-0",
            "SUP-7KQ2M9XD-x",
            "ORDER-1",
            "SUP--1",
            "",
        ] {
            assert_eq!(parse_reply_id(bad), None, "{bad}");
        }
    }
}
