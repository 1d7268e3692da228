//! Campaigns: their records, the paging of their audience, and one delivery per recipient.

use super::*;

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

impl MarketingStore {
    /// Campaigns, newest first.
    pub async fn newest_campaigns(
        &self,
        limit: shop_domain::PageLimit,
        cursor: Option<&Cursor>,
    ) -> Result<crate::dynamo::Page<CampaignRecord>, crate::dynamo::ListError> {
        let (items, next_cursor) =
            dynamo::index_page(&self.client, &self.table, CAMPAIGNS, limit, cursor, false).await?;
        let items = items.into_iter().map(dynamo::record).collect::<Result<Vec<_>, _>>()?;
        Ok(crate::dynamo::Page { items, next_cursor })
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
