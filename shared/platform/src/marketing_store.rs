//! Subscribers and campaigns in the table.
//!
//! - `SUBSCRIBER#<email> / SUBSCRIBER`: the address's status and consent (when, from where,
//!   which wording) and its confirmation link (hash, expiry). Once
//!   confirmed it is in the audience `AUDIENCE#all` on `gsi1` (sorted by address), and through
//!   `SUBSCRIBER#<email> / AUDIENCE#source#<source>` in its source's audience. Audience entries
//!   stay when an address leaves: a campaign checks every recipient's status before it sends,
//!   and counts those who left as suppressed.
//! - `SUBSCRIBE_TOKEN#<hash> / TOKEN` and `UNSUBSCRIBE#<hash> / TOKEN`: a link's token to its
//!   address (only hashes are kept). An address's unsubscribe token is a MAC of the address with
//!   the shop's key ([`unsubscribe_token`]), made again for each campaign mail, never stored.
//! - `CAMPAIGN#<id> / CAMPAIGN`: the campaign, its counts and how far its audience is paged;
//!   listed newest first on `gsi1` `CAMPAIGNS`.
//! - `CAMPAIGN#<id> / TO#<email>`: one delivery, written on condition that there is none (or
//!   only a failed attempt before this one), so each recipient gets a campaign once.

use crate::dynamo::{self, GSI1, GSI1PK, GSI1SK, Item, PK, SK, StoreError, key, s};
use crate::order_store::{build, n};
use crate::secrets;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde::{Deserialize, Serialize};
use shop_domain::marketing::{self, Audience, CampaignDraft, CampaignStatus, Progress, SignUp, SubscriberStatus};
use shop_domain::order::Email;
use shop_domain::{Cursor, CursorError};
use std::collections::HashMap;

/// Subscribers an audience page holds (one Query).
pub const AUDIENCE_PAGE: i32 = 1000;
/// The `gsi1` partition listing campaigns by creation.
const CAMPAIGNS: &str = "CAMPAIGNS";
/// Days a delivery record is kept (a retried batch within them sends nothing twice).
const DELIVERY_TTL: i64 = 180 * 24 * 3600;

/// A subscriber as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscriber {
    /// The address.
    pub email: String,
    /// Where it stands.
    pub status: SubscriberStatus,
    /// Where it signed up first.
    pub source: String,
    /// Unix seconds of the first sign-up.
    pub created_at: i64,
    /// Hash of the confirmation link's token, while pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_hash: Option<String>,
    /// When the last confirmation link was mailed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_mailed_at: Option<i64>,
    /// When it confirmed (the consent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consented_at: Option<i64>,
    /// The sign-up wording it agreed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_wording: Option<String>,
    /// When it left or was suppressed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_at: Option<i64>,
    /// Changes with every write (optimistic locking).
    pub version: u64,
}

/// What a sign-up came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignUpOutcome {
    /// Pending: mail this confirmation link token.
    MailLink(String),
    /// Nothing to mail.
    Nothing,
}

/// What following a confirmation link came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    /// Confirmed now, or before (a second click).
    Confirmed(String),
    /// The link's time is up; sign up again.
    Expired,
    /// No such link (or replaced by a newer one).
    Unknown,
}

/// A campaign as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignRecord {
    /// Its id.
    pub campaign_id: String,
    /// The merchant's name for it.
    pub name: String,
    /// The subject.
    pub subject: String,
    /// The HTML body (an SES template: `{{unsubscribe_url}}`, `{{email}}`, `{{discount_code}}`).
    pub html: String,
    /// The text body (the same template fields).
    pub text: String,
    /// Who gets it.
    pub audience: Audience,
    /// A discount code the mail offers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_code: Option<String>,
    /// Draft, or sending (sent is computed from the counts).
    pub status: CampaignStatus,
    /// Unix seconds.
    pub created_at: i64,
    /// When send was pressed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    /// The next audience page to fan out.
    #[serde(default)]
    pub next_page: u32,
    /// Where that page starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Whether every page was fanned out.
    #[serde(default)]
    pub fanned_out: bool,
    /// Its counts.
    #[serde(default, flatten)]
    pub progress: Progress,
    /// SES `SendBulkEmail` calls made for it.
    #[serde(default)]
    pub bulk_calls: u64,
}

impl CampaignRecord {
    /// Draft, sending or sent.
    pub fn status(&self) -> CampaignStatus {
        match self.status {
            CampaignStatus::Draft => CampaignStatus::Draft,
            _ => self.progress.status(self.fanned_out),
        }
    }
}

/// What marking an audience page done came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageMark {
    /// Marked now.
    Marked,
    /// This page was done before; the campaign is at `next_page` starting at `cursor`.
    Before {
        /// The next page to fan out.
        next_page: u32,
        /// Where it starts; `None` when the audience is done.
        cursor: Option<String>,
        /// Whether every page is done.
        fanned_out: bool,
    },
}

/// Counts one delivery batch adds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Sent now.
    pub sent: u64,
    /// Failed for good now.
    pub failed: u64,
    /// Skipped: left or suppressed.
    pub suppressed: u64,
    /// SES calls made.
    pub bulk_calls: u64,
}

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
    unsubscribe_token_with(crate::keys::key(), email)
}

/// [`unsubscribe_token`] with `key`.
pub fn unsubscribe_token_with(key: &crate::keys::ShopKey, email: &str) -> String {
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

    /// The subscriber with this address, if any.
    pub async fn subscriber(&self, email: &str) -> Result<Option<Subscriber>, StoreError> {
        dynamo::get_item(&self.client, &self.table, subscriber_key(email))
            .await?
            .map(dynamo::record)
            .transpose()
    }

    /// Signs `email` up from `source`: a new or departed address becomes pending with a fresh
    /// confirmation link (its token is returned to be mailed); see [`marketing::sign_up`].
    pub async fn sign_up(&self, email: &Email, source: &str, now: i64) -> Result<SignUpOutcome, StoreError> {
        let current = self.subscriber(email.as_str()).await?;
        let decision = marketing::sign_up(
            current.as_ref().map(|s| s.status),
            current.as_ref().and_then(|s| s.confirm_mailed_at),
            now,
        );
        if decision == SignUp::Nothing {
            return Ok(SignUpOutcome::Nothing);
        }
        let token = secrets::new_token();
        let hash = secrets::token_hash(&token);
        let expires_at = now + marketing::CONFIRM_HOURS * 3600;
        let (subscriber, condition) = match current {
            Some(mut subscriber) => {
                let seen = subscriber.version;
                subscriber.status = SubscriberStatus::Pending;
                subscriber.confirm_hash = Some(hash.clone());
                subscriber.confirm_mailed_at = Some(now);
                subscriber.version = seen + 1;
                (
                    subscriber,
                    ("version = :seen", HashMap::from([(":seen".to_owned(), n(seen))])),
                )
            }
            None => (
                Subscriber {
                    email: email.as_str().to_owned(),
                    status: SubscriberStatus::Pending,
                    source: source.to_owned(),
                    created_at: now,
                    confirm_hash: Some(hash.clone()),
                    confirm_mailed_at: Some(now),
                    consented_at: None,
                    consent_wording: None,
                    left_at: None,
                    version: 1,
                },
                ("attribute_not_exists(pk)", HashMap::new()),
            ),
        };
        let mut items = vec![
            put(
                with(
                    subscriber_key(email.as_str()),
                    serde_dynamo::to_item::<_, Item>(&subscriber)?,
                ),
                Some(condition),
                &self.table,
            )?,
            put(
                with(
                    confirm_key(&hash),
                    [
                        ("email", s(email.as_str())),
                        ("expires_at", n(expires_at)),
                        ("ttl", n(expires_at + 24 * 3600)),
                    ],
                ),
                None,
                &self.table,
            )?,
        ];
        if subscriber.version == 1 {
            items.push(put(
                with(
                    unsubscribe_key(&secrets::token_hash(&unsubscribe_token(email.as_str()))),
                    [("email", s(email.as_str()))],
                ),
                None,
                &self.table,
            )?);
        }
        match dynamo::transact(&self.client, items).await? {
            None => Ok(SignUpOutcome::MailLink(token)),
            // Another sign-up of the same address won the race and mails its own link.
            Some(_) => Ok(SignUpOutcome::Nothing),
        }
    }

    /// Forgets that `email`'s link was mailed (SES refused it), so the retried sign-up makes
    /// and mails a new one.
    pub async fn link_unmailed(&self, email: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(subscriber_key(email)))
            .update_expression("REMOVE confirm_mailed_at")
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        dynamo::conditional(result).map(|_| ())
    }

    /// Follows a confirmation link: the pending address it names becomes confirmed, with its
    /// consent recorded, and joins its audiences. Following it again is a no-op.
    pub async fn confirm(&self, token: &str, now: i64) -> Result<Confirmation, StoreError> {
        let hash = secrets::token_hash(token);
        let Some(link) = dynamo::get_item(&self.client, &self.table, confirm_key(&hash)).await? else {
            return Ok(Confirmation::Unknown);
        };
        let email = dynamo::get_s(&link, "email").unwrap_or_default().to_owned();
        let Some(subscriber) = self.subscriber(&email).await? else {
            return Ok(Confirmation::Unknown);
        };
        if subscriber.status == SubscriberStatus::Confirmed && subscriber.confirm_hash.as_deref() == Some(hash.as_str())
        {
            return Ok(Confirmation::Confirmed(email));
        }
        if subscriber.status != SubscriberStatus::Pending || subscriber.confirm_hash.as_deref() != Some(hash.as_str()) {
            return Ok(Confirmation::Unknown);
        }
        let expires_at = link
            .get("expires_at")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0);
        if now >= expires_at {
            return Ok(Confirmation::Expired);
        }
        let confirmed = Subscriber {
            status: SubscriberStatus::Confirmed,
            consented_at: Some(now),
            consent_wording: Some(marketing::CONSENT_WORDING.to_owned()),
            left_at: None,
            version: subscriber.version + 1,
            ..subscriber.clone()
        };
        let segment = Audience::Source {
            source: subscriber.source.clone(),
        }
        .index_key();
        let items = vec![
            put(
                confirmed_item(&confirmed)?,
                Some((
                    "version = :seen",
                    HashMap::from([(":seen".to_owned(), n(subscriber.version))]),
                )),
                &self.table,
            )?,
            put(audience_entry(&email, &segment), None, &self.table)?,
        ];
        match dynamo::transact(&self.client, items).await? {
            None => Ok(Confirmation::Confirmed(email)),
            // Changed meanwhile (a second click racing this one): read what it is now.
            Some(_) => match self.subscriber(&email).await? {
                Some(now) if now.status == SubscriberStatus::Confirmed => Ok(Confirmation::Confirmed(email)),
                _ => Ok(Confirmation::Unknown),
            },
        }
    }

    /// Adds confirmed subscribers whose consent was given elsewhere (a list moved from another
    /// tool: each address with when it consented) from `source`. An address the shop knows
    /// already is left as it is (whatever it said here since, an unsubscribe included, stands):
    /// answers how many were added and how many were known.
    pub async fn import_confirmed(
        &self,
        subscribers: &[(Email, i64)],
        source: &str,
    ) -> Result<(usize, usize), StoreError> {
        let keys = subscribers
            .iter()
            .map(|(email, _)| subscriber_key(email.as_str()))
            .collect();
        let known: std::collections::HashSet<String> = dynamo::get_batch(&self.client, &self.table, keys)
            .await?
            .iter()
            .filter_map(|item| dynamo::get_s(item, "email").map(str::to_owned))
            .collect();
        let segment = Audience::Source {
            source: source.to_owned(),
        }
        .index_key();
        let mut writes = Vec::new();
        let mut added = std::collections::HashSet::new();
        for (email, consented_at) in subscribers {
            let email = email.as_str();
            if known.contains(email) || !added.insert(email) {
                continue;
            }
            let subscriber = Subscriber {
                email: email.to_owned(),
                status: SubscriberStatus::Confirmed,
                source: source.to_owned(),
                created_at: *consented_at,
                confirm_hash: None,
                confirm_mailed_at: None,
                consented_at: Some(*consented_at),
                consent_wording: Some(format!("imported ({source})")),
                left_at: None,
                version: 1,
            };
            let item = confirmed_item(&subscriber)?;
            writes.push(dynamo::Write::Put(with(
                unsubscribe_key(&secrets::token_hash(&unsubscribe_token(email))),
                [("email", s(email))],
            )));
            writes.push(dynamo::Write::Put(item));
            writes.push(dynamo::Write::Put(audience_entry(email, &segment)));
        }
        let imported = added.len();
        dynamo::write_batch(&self.client, &self.table, writes).await?;
        Ok((imported, subscribers.len() - imported))
    }

    /// Campaigns, newest first.
    pub async fn newest_campaigns(
        &self,
        limit: shop_domain::PageLimit,
        cursor: Option<&Cursor>,
    ) -> Result<crate::catalog_store::Page<CampaignRecord>, crate::catalog_store::CatalogError> {
        let (items, next_cursor) =
            dynamo::index_page(&self.client, &self.table, CAMPAIGNS, limit, cursor, false).await?;
        let items = items.into_iter().map(dynamo::record).collect::<Result<Vec<_>, _>>()?;
        Ok(crate::catalog_store::Page { items, next_cursor })
    }

    /// The address an unsubscribe token names, if any.
    pub async fn unsubscriber(&self, token: &str) -> Result<Option<String>, StoreError> {
        let item = dynamo::get_item(&self.client, &self.table, unsubscribe_key(&secrets::token_hash(token))).await?;
        Ok(item.and_then(|item| dynamo::get_s(&item, "email").map(str::to_owned)))
    }

    /// Ends `email`'s subscription (`Unsubscribed`) or puts it on the suppression list
    /// (`Bounced`, `Complained`), creating the record for an address never subscribed. A
    /// suppression is never turned back into a plain unsubscribe.
    pub async fn leave(&self, email: &str, status: SubscriberStatus, now: i64) -> Result<(), StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(subscriber_key(email)))
            .update_expression(
                "SET #status = :status, left_at = :now, email = :email, \
                 #source = if_not_exists(#source, :none), created_at = if_not_exists(created_at, :now) ADD version :one",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#source", "source")
            .expression_attribute_values(":status", build(serde_dynamo::to_attribute_value(status))?)
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":email", s(email))
            .expression_attribute_values(":none", s(""))
            .expression_attribute_values(":one", n(1));
        if status == SubscriberStatus::Unsubscribed {
            update = update
                .condition_expression("attribute_not_exists(#status) OR #status IN (:pending, :confirmed)")
                .expression_attribute_values(
                    ":pending",
                    build(serde_dynamo::to_attribute_value(SubscriberStatus::Pending))?,
                )
                .expression_attribute_values(
                    ":confirmed",
                    build(serde_dynamo::to_attribute_value(SubscriberStatus::Confirmed))?,
                );
        }
        dynamo::conditional(update.send().await)?;
        Ok(())
    }

    /// The subscribers with these addresses (absent ones are left out).
    pub async fn subscribers(&self, emails: &[String]) -> Result<HashMap<String, Subscriber>, StoreError> {
        let keys = emails.iter().map(|email| subscriber_key(email)).collect();
        dynamo::get_batch(&self.client, &self.table, keys)
            .await?
            .into_iter()
            .map(|item| dynamo::record::<Subscriber>(item).map(|s| (s.email.clone(), s)))
            .collect()
    }

    /// One page of an audience: addresses in order, and where the next page starts.
    pub async fn audience_page(
        &self,
        audience: &Audience,
        cursor: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), StoreError> {
        let partition = audience_partition(&audience.index_key());
        let start = cursor
            .map(|text| crate::keys::open_cursor(text).and_then(|c| dynamo::index_start_key(&c, &partition)))
            .transpose()
            .map_err(|CursorError| StoreError::Corrupt("a campaign's audience cursor".into()))?;
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("#index = :partition")
            .expression_attribute_names("#index", GSI1PK)
            .expression_attribute_values(":partition", s(&partition))
            .projection_expression("#pk, #sk, #index, #sort, email")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_names("#sort", GSI1SK)
            .limit(AUDIENCE_PAGE)
            .set_exclusive_start_key(start)
            .send()
            .await?;
        let emails = output
            .items()
            .iter()
            .filter_map(|item| dynamo::get_s(item, "email").map(str::to_owned))
            .collect();
        Ok((
            emails,
            output
                .last_evaluated_key
                .map(|k| crate::keys::seal_cursor(&dynamo::index_cursor(&k))),
        ))
    }

    /// Stores a new draft campaign.
    pub async fn create_campaign(
        &self,
        draft: CampaignDraft,
        discount_code: Option<String>,
        now: i64,
    ) -> Result<CampaignRecord, StoreError> {
        let campaign = CampaignRecord {
            campaign_id: secrets::new_reference("CMP-"),
            name: draft.name,
            subject: draft.subject,
            html: draft.html,
            text: draft.text,
            audience: draft.audience,
            discount_code,
            status: CampaignStatus::Draft,
            created_at: now,
            started_at: None,
            next_page: 0,
            cursor: None,
            fanned_out: false,
            progress: Progress::default(),
            bulk_calls: 0,
        };
        let mut item = with(
            campaign_key(&campaign.campaign_id),
            serde_dynamo::to_item::<_, Item>(&campaign)?,
        );
        item.insert(GSI1PK.to_owned(), s(CAMPAIGNS));
        item.insert(GSI1SK.to_owned(), s(format!("{now:012}#{}", campaign.campaign_id)));
        let written = dynamo::conditional(
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await,
        )?;
        if !written {
            return Err(StoreError::Failed("a campaign id was taken".into()));
        }
        Ok(campaign)
    }

    /// The campaign with this id.
    pub async fn campaign(&self, id: &str) -> Result<Option<CampaignRecord>, StoreError> {
        dynamo::get_item(&self.client, &self.table, campaign_key(id))
            .await?
            .map(dynamo::record)
            .transpose()
    }

    /// Moves a draft to sending; `false` when it was sent before (pressing send twice).
    pub async fn start_sending(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        dynamo::conditional(
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(campaign_key(id)))
                .update_expression("SET #status = :sending, started_at = :now")
                .condition_expression("#status = :draft")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":sending", s("sending"))
                .expression_attribute_values(":draft", s("draft"))
                .expression_attribute_values(":now", n(now))
                .send()
                .await,
        )
    }

    /// Marks audience page `page` fanned out with `found` recipients, the next starting at
    /// `next` (`None`: that was the last).
    pub async fn mark_page(&self, id: &str, page: u32, found: u64, next: Option<&str>) -> Result<PageMark, StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(campaign_key(id)))
            .condition_expression("next_page = :page")
            .expression_attribute_values(":page", n(page))
            .expression_attribute_values(":next", n(page + 1))
            .expression_attribute_values(":found", n(found));
        update = match next {
            Some(cursor) => update
                .update_expression("SET next_page = :next, #cursor = :cursor ADD recipients :found")
                .expression_attribute_names("#cursor", "cursor")
                .expression_attribute_values(":cursor", s(cursor)),
            None => update
                .update_expression("SET next_page = :next, fanned_out = :yes REMOVE #cursor ADD recipients :found")
                .expression_attribute_names("#cursor", "cursor")
                .expression_attribute_values(":yes", AttributeValue::Bool(true)),
        };
        if dynamo::conditional(update.send().await)? {
            return Ok(PageMark::Marked);
        }
        let campaign = self
            .campaign(id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("campaign {id} vanished")))?;
        Ok(PageMark::Before {
            next_page: campaign.next_page,
            cursor: campaign.cursor,
            fanned_out: campaign.fanned_out,
        })
    }

    /// Claims the deliveries of campaign `id` for `attempt`, each recipient as its state
    /// (`sent`, or `suppressed` for an address that left), each with a conditional write of
    /// its own: a recipient claimed before that did not fail since must be neither sent nor
    /// counted now, and is answered `false`. A failed attempt may be claimed again by the same
    /// attempt (its batch retried whole) or a later one.
    ///
    /// (Not one transaction of 50: one recipient claimed before would fail the whole batch,
    /// and the writes are independent.)
    pub async fn claim_deliveries(
        &self,
        id: &str,
        claims: &[(String, &'static str)],
        attempt: u32,
        now: i64,
    ) -> Result<Vec<bool>, StoreError> {
        let mut granted = Vec::with_capacity(claims.len());
        for (email, state) in claims {
            let item = with(
                delivery_key(id, email),
                [
                    ("state", s(*state)),
                    ("attempts", n(attempt)),
                    ("at", n(now)),
                    ("ttl", n(now + DELIVERY_TTL)),
                ],
            );
            granted.push(dynamo::conditional(
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(pk) OR (#state = :failed AND attempts <= :attempt)")
                    .expression_attribute_names("#state", "state")
                    .expression_attribute_values(":failed", s("failed"))
                    .expression_attribute_values(":attempt", n(attempt))
                    .send()
                    .await,
            )?);
        }
        Ok(granted)
    }

    /// Records that attempt `attempt` at `email` failed (SES refused it), so a later attempt
    /// may claim it.
    pub async fn delivery_failed(&self, id: &str, email: &str, attempt: u32, error: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(delivery_key(id, email)))
            .update_expression("SET #state = :failed, #error = :error")
            .condition_expression("attempts = :attempt")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#error", "error")
            .expression_attribute_values(":failed", s("failed"))
            .expression_attribute_values(":error", s(error))
            .expression_attribute_values(":attempt", n(attempt))
            .send()
            .await
            .map(|_| ())
            .map_err(StoreError::from)
    }

    /// Adds a batch's counts to its campaign.
    pub async fn count(&self, id: &str, tally: Tally) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(campaign_key(id)))
            .update_expression("ADD sent :sent, failed :failed, suppressed :suppressed, bulk_calls :calls")
            .expression_attribute_values(":sent", n(tally.sent))
            .expression_attribute_values(":failed", n(tally.failed))
            .expression_attribute_values(":suppressed", n(tally.suppressed))
            .expression_attribute_values(":calls", n(tally.bulk_calls))
            .send()
            .await?;
        Ok(())
    }
}
