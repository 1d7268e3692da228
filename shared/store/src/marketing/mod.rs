//! Subscribers and campaigns in the table: the subscriber list with its consent and links
//! (`subscribers`), the campaigns with their deliveries (`campaigns`).
//!
//! - `SUBSCRIBER#<email> / SUBSCRIBER`: the address's status and consent (when, from where,
//!   which wording) and its confirmation link (hash, expiry). Once
//!   confirmed it is in the audience `AUDIENCE#all` on `gsi1` (sorted by address), and through
//!   `SUBSCRIBER#<email> / AUDIENCE#source#<source>` in its source's audience. Audience entries
//!   stay when an address leaves: a campaign checks every recipient's status before it sends,
//!   and counts those who left as suppressed. An address never confirmed (pending, or left
//!   before it confirmed) is listed in `SUBSCRIBERS#unconfirmed` on `gsi1` instead, so every
//!   address is in exactly one of the two and the list can be counted by Query ([`counts`]).
//! - `SUBSCRIBE_TOKEN#<hash> / TOKEN` and `UNSUBSCRIBE#<hash> / TOKEN`: a link's token to its
//!   address (only hashes are kept). An address's unsubscribe token is a MAC of the address with
//!   the shop's key ([`unsubscribe_token`]), made again for each campaign mail, never stored.
//! - `CAMPAIGN#<id> / CAMPAIGN`: the campaign, its counts and how far its audience is paged;
//!   listed newest first on `gsi1` `CAMPAIGNS`.
//! - `CAMPAIGN#<id> / TO#<email>`: one delivery, written on condition that there is none (or
//!   only a failed attempt before this one), so each recipient gets a campaign once.

use crate::dynamo::{self, GSI1, GSI1PK, GSI1SK, Item, PK, SK, StoreError, build, key, n, s};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde::{Deserialize, Serialize};
use shop_domain::marketing::{self, Audience, CampaignDraft, CampaignStatus, Progress, SignUp, SubscriberStatus};
use shop_domain::order::Email;
use shop_domain::{Cursor, CursorError};
use shop_platform::secrets;
use std::collections::HashMap;

/// Subscribers an audience page holds (one Query).
pub const AUDIENCE_PAGE: i32 = 1000;
/// The `gsi1` partition listing campaigns by creation.
const CAMPAIGNS: &str = "CAMPAIGNS";
/// Days a delivery record is kept (a retried batch within them sends nothing twice).
const DELIVERY_TTL: i64 = 180 * 24 * 3600;

mod campaigns;
mod counts;
mod subscribers;

pub use campaigns::{CampaignRecord, PageMark, Tally};
pub use counts::{COUNT_QUERIES_MAX, SubscriberCounts};
pub use subscribers::{Confirmation, SignUpOutcome, Subscriber};

/// The subscriber list and the campaigns.
#[derive(Debug, Clone)]
pub struct MarketingStore {
    client: Client,
    table: String,
}

fn subscriber_key(email: &str) -> Item {
    key(format!("SUBSCRIBER#{email}"), "SUBSCRIBER")
}

fn confirm_key(hash: &str) -> Item {
    key(format!("SUBSCRIBE_TOKEN#{hash}"), "TOKEN")
}

/// The token of `email`'s unsubscribe links: the same in every mail, so each keeps working, and
/// made from the shop's key, so the table keeps only its hash.
pub fn unsubscribe_token(email: &str) -> String {
    unsubscribe_token_with(shop_platform::keys::key(), email)
}

/// [`unsubscribe_token`] with `key`.
pub fn unsubscribe_token_with(key: &shop_platform::keys::ShopKey, email: &str) -> String {
    key.tag("unsubscribe", email)
}

fn unsubscribe_key(hash: &str) -> Item {
    key(format!("UNSUBSCRIBE#{hash}"), "TOKEN")
}

fn campaign_key(id: &str) -> Item {
    key(format!("CAMPAIGN#{id}"), "CAMPAIGN")
}

fn delivery_key(campaign_id: &str, email: &str) -> Item {
    key(format!("CAMPAIGN#{campaign_id}"), format!("TO#{email}"))
}

/// The `gsi1` partition of the addresses never confirmed (pending, or left before confirming).
const UNCONFIRMED: &str = "SUBSCRIBERS#unconfirmed";

fn audience_partition(audience_key: &str) -> String {
    format!("AUDIENCE#{audience_key}")
}

/// A confirmed subscriber's item, in the audience `all` (its own `gsi1` entry).
fn confirmed_item(subscriber: &Subscriber) -> Result<Item, StoreError> {
    let mut item = with(
        subscriber_key(&subscriber.email),
        serde_dynamo::to_item::<_, Item>(subscriber)?,
    );
    item.insert(GSI1PK.to_owned(), s(audience_partition("all")));
    item.insert(GSI1SK.to_owned(), s(&subscriber.email));
    Ok(item)
}

/// A subscriber's item before it confirmed: listed in [`UNCONFIRMED`].
fn unconfirmed_item(subscriber: &Subscriber) -> Result<Item, StoreError> {
    let mut item = with(
        subscriber_key(&subscriber.email),
        serde_dynamo::to_item::<_, Item>(subscriber)?,
    );
    item.insert(GSI1PK.to_owned(), s(UNCONFIRMED));
    item.insert(GSI1SK.to_owned(), s(&subscriber.email));
    Ok(item)
}

/// `email`'s entry in the audience `audience_key` other than `all` (which is the subscriber
/// item's own index entry).
fn audience_entry(email: &str, audience_key: &str) -> Item {
    with(
        key(format!("SUBSCRIBER#{email}"), format!("AUDIENCE#{audience_key}")),
        [
            (GSI1PK, s(audience_partition(audience_key))),
            (GSI1SK, s(email)),
            ("email", s(email)),
        ],
    )
}

fn with<K: Into<String>>(mut item: Item, more: impl IntoIterator<Item = (K, AttributeValue)>) -> Item {
    item.extend(more.into_iter().map(|(name, value)| (name.into(), value)));
    item
}

fn put(
    item: Item,
    condition: Option<(&str, HashMap<String, AttributeValue>)>,
    table: &str,
) -> Result<TransactWriteItem, StoreError> {
    let mut put = Put::builder().table_name(table).set_item(Some(item));
    if let Some((expression, values)) = condition {
        put = put
            .condition_expression(expression)
            .set_expression_attribute_values((!values.is_empty()).then_some(values));
    }
    Ok(TransactWriteItem::builder().put(build(put.build())?).build())
}

impl MarketingStore {
    /// Subscribers and campaigns in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}
