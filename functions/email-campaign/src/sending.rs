//! The campaign queue's consumer, and the SES events queue's.
//!
//! - A sign-up becomes a pending subscriber and a mail with its confirmation link.
//! - A fan-out page reads up to [`shop_store::marketing::AUDIENCE_PAGE`] addresses of the audience (one Query), queues
//!   them as delivery batches of [`BATCH_SIZE`], marks the page done on condition that it was
//!   the next (a redelivered page counts nobody twice) and queues the next page.
//! - A delivery batch claims each recipient's delivery record with a conditional write (a recipient
//!   claimed before, by a retried batch or a second press of send, is skipped), counts those who left as
//!   suppressed, and sends the rest in one `SendBulkEmail`: one template, each recipient's own
//!   unsubscribe link in its data and in its `List-Unsubscribe` headers. A recipient SES
//!   refused is tried again in a later batch, at most [`MAX_ATTEMPTS`] times, then counted as
//!   failed.
//! - An SES bounce (permanent) or complaint puts the address on the suppression list, and is
//!   counted on its UTC day, once per mail however often it is delivered
//!   ([`shop_store::mail_events`]), for the merchant's Today page.

use crate::EmailCampaign;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use minijinja::value::Value;
use minijinja::{Environment, context};
use serde::Deserialize;
use shop_domain::marketing::{BATCH_SIZE, CONFIRM_HOURS, MAX_ATTEMPTS, SubscriberStatus};
use shop_domain::order::Email;
use shop_platform::batch::{Trace, process_batch};
use shop_platform::messages::{self, CampaignMessage, from_json};
use shop_platform::metrics::Metric;
use shop_services::queue::QueueError;
use shop_services::ses::{BulkMail, Mail, Recipient as BulkRecipient};
use shop_store::dynamo::StoreError;
use shop_store::mail_events::MailEventKind;
use shop_store::marketing::{CampaignRecord, PageMark, SignUpOutcome, Tally};

/// Why one message could not be handled (it is retried, then dead-lettered).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Neither a campaign message nor an SES event: retrying will not help.
    #[error("the message cannot be read: {0}")]
    Unreadable(String),
    /// A campaign message names a campaign that is not there, or not sending.
    #[error("campaign {0} is not sending")]
    NotSending(String),
    /// The table failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The campaign queue failed.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// SES refused or failed, or its request could not be built.
    #[error("SES: {0}")]
    Ses(String),
}

/// An SES event as a configuration set publishes it (through SNS with raw delivery), or an
/// SES notification (`notificationType`); only what suppression needs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesEvent {
    #[serde(alias = "notificationType")]
    event_type: String,
    #[serde(default)]
    bounce: Option<Bounce>,
    #[serde(default)]
    complaint: Option<Complaint>,
    #[serde(default)]
    mail: Option<SentMail>,
}

/// The mail an SES event is about.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SentMail {
    /// SES's id of the message: the same in every delivery of one event.
    message_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bounce {
    bounce_type: String,
    #[serde(default)]
    bounced_recipients: Vec<Recipient>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Complaint {
    #[serde(default)]
    complained_recipients: Vec<Recipient>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recipient {
    email_address: String,
}

/// An SNS notification not delivered raw: the event is its `Message`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnsEnvelope {
    message: String,
}

/// What a queue message asks for.
enum Work {
    Campaign(CampaignMessage),
    Ses(SesEvent),
}

impl messages::Message for Work {
    const NAME: &'static str = "campaign message or SES event";

    fn parse(body: &str) -> Result<Self, String> {
        if let Ok(message) = <CampaignMessage as messages::Message>::parse(body) {
            return Ok(Work::Campaign(message));
        }
        if let Ok(event) = from_json::<SesEvent>(body) {
            return Ok(Work::Ses(event));
        }
        let envelope: SnsEnvelope = from_json(body)?;
        from_json::<SesEvent>(&envelope.message).map(Work::Ses)
    }
}

impl EmailCampaign {
    /// Handles a batch of either queue, reporting the messages that failed.
    pub async fn handle_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        process_batch(event, |work: Work, trace| self.handle_one(work, trace)).await
    }

    async fn handle_one(&self, work: Work, trace: Trace) -> Result<(), SendError> {
        match work {
            Work::Ses(event) => self.suppress(event).await,
            Work::Campaign(CampaignMessage::SignUp { email, source }) => self.mail_link(&email, &source).await,
            Work::Campaign(CampaignMessage::FanOut { campaign_id, page }) => {
                self.fan_out(&campaign_id, page, &trace).await
            }
            Work::Campaign(CampaignMessage::Deliver {
                campaign_id,
                attempt,
                recipients,
            }) => self.deliver(&campaign_id, attempt, recipients, &trace).await,
        }
    }

    async fn suppress(&self, event: SesEvent) -> Result<(), SendError> {
        let (status, kind, recipients) = match (event.event_type.as_str(), event.bounce, event.complaint) {
            ("Bounce", Some(bounce), _) if bounce.bounce_type == "Permanent" => (
                SubscriberStatus::Bounced,
                MailEventKind::Bounce,
                bounce.bounced_recipients,
            ),
            ("Complaint", _, Some(complaint)) => (
                SubscriberStatus::Complained,
                MailEventKind::Complaint,
                complaint.complained_recipients,
            ),
            (kind, _, _) => {
                tracing::info!(kind, "SES event that suppresses nobody");
                return Ok(());
            }
        };
        for recipient in recipients {
            let Ok(email) = Email::parse(&recipient.email_address) else {
                tracing::warn!("SES event names an address that is not one; skipped");
                continue;
            };
            self.store.leave(email.as_str(), status, self.clock.now()).await?;
            tracing::info!(?status, "address suppressed");
        }
        // Counted once the addresses are suppressed: a failure above retries the whole event,
        // and the count's own record keeps the retry from counting it twice.
        match event.mail.as_ref().map(|mail| mail.message_id.trim()) {
            Some(message_id) if !message_id.is_empty() => {
                let counted = self.mail_events.count(kind, message_id, self.clock.now()).await?;
                tracing::info!(?kind, message_id, counted, "SES report counted for the Today page");
                if counted {
                    let metric = match kind {
                        MailEventKind::Bounce => Metric::MailBounces,
                        MailEventKind::Complaint => Metric::MailComplaints,
                    };
                    metric.once().with("message_id", message_id).emit();
                }
            }
            _ => tracing::warn!(?kind, "SES event without the mail's message id; not counted"),
        }
        Ok(())
    }

    async fn mail_link(&self, email: &Email, source: &str) -> Result<(), SendError> {
        let now = self.clock.now();
        let SignUpOutcome::MailLink(token) = self.store.sign_up(email, source, now).await? else {
            tracing::info!("sign-up needs no mail");
            return Ok(());
        };
        let facts = context! {
            store_name => &self.store_name,
            email => email.as_str(),
            hours => CONFIRM_HOURS,
            confirm_url => self.settings.confirm_url(&token),
        };
        let render = |name: &str| {
            self.templates
                .get_template(name)
                .and_then(|template| template.render(&facts))
                .map_err(|e| SendError::Unreadable(format!("{name}: {e}")))
        };
        let (text, html) = (render("confirm.txt")?, render("confirm.html")?);
        let mail = Mail {
            to: email.as_str().to_owned(),
            reply_to: None,
            subject: format!("Please confirm your subscription to {}", self.store_name),
            html,
            text,
            tag: ("kind", "subscription_confirmation".to_owned()),
        };
        if let Err(error) = self.ses.send(mail).await {
            // The link stays unmailed, so the retry makes and mails a new one.
            self.store.link_unmailed(email.as_str()).await?;
            return Err(SendError::Ses(error.to_string()));
        }
        tracing::info!(source, "confirmation link mailed");
        Ok(())
    }

    async fn sending(&self, campaign_id: &str) -> Result<CampaignRecord, SendError> {
        match self.store.campaign(campaign_id).await? {
            Some(campaign) if campaign.status != shop_domain::marketing::CampaignStatus::Draft => Ok(campaign),
            _ => Err(SendError::NotSending(campaign_id.to_owned())),
        }
    }

    async fn fan_out(&self, campaign_id: &str, page: u32, trace: &Trace) -> Result<(), SendError> {
        let campaign = self.sending(campaign_id).await?;
        let next = |page| CampaignMessage::FanOut {
            campaign_id: campaign_id.to_owned(),
            page,
        };
        if campaign.next_page != page {
            // Done before. If the crash came between marking it and queueing the next, queue it.
            if campaign.next_page == page + 1 && !campaign.fanned_out {
                self.queue.send(&next(page + 1), 0, trace).await?;
            }
            tracing::info!(page, "audience page fanned out before");
            return Ok(());
        }
        let (emails, cursor) = self
            .store
            .audience_page(&campaign.audience, campaign.cursor.as_deref())
            .await?;
        let batches: Vec<CampaignMessage> = emails
            .chunks(BATCH_SIZE)
            .map(|chunk| CampaignMessage::Deliver {
                campaign_id: campaign_id.to_owned(),
                attempt: 1,
                recipients: chunk.to_vec(),
            })
            .collect();
        self.queue.send_all(&batches, trace).await?;
        let found = emails.len() as u64;
        let more = match self
            .store
            .mark_page(campaign_id, page, found, cursor.as_deref())
            .await?
        {
            PageMark::Marked => cursor.is_some(),
            PageMark::Before {
                next_page, fanned_out, ..
            } => next_page == page + 1 && !fanned_out,
        };
        if more {
            self.queue.send(&next(page + 1), 0, trace).await?;
        }
        tracing::info!(page, found, batches = batches.len(), more, "audience page fanned out");
        Ok(())
    }

    async fn deliver(
        &self,
        campaign_id: &str,
        attempt: u32,
        recipients: Vec<String>,
        trace: &Trace,
    ) -> Result<(), SendError> {
        let campaign = self.sending(campaign_id).await?;
        let subscribers = self.store.subscribers(&recipients).await?;
        let now = self.clock.now();
        let mut tally = Tally::default();
        let claims: Vec<(String, &'static str)> = recipients
            .into_iter()
            .map(|email| {
                let state = match subscribers.get(&email) {
                    Some(subscriber) if subscriber.status.may_receive_campaigns() => "sent",
                    _ => "suppressed",
                };
                (email, state)
            })
            .collect();
        let granted = self.store.claim_deliveries(campaign_id, &claims, attempt, now).await?;
        let mut claimed = Vec::new();
        for ((email, state), granted) in claims.into_iter().zip(granted) {
            match (granted, state, subscribers.get(&email)) {
                (false, _, _) => {}
                (true, "sent", Some(_)) => {
                    let token = shop_store::marketing::unsubscribe_token(&email);
                    claimed.push((email, token));
                }
                (true, _, _) => tally.suppressed += 1,
            }
        }
        let mut retry = Vec::new();
        if !claimed.is_empty() {
            let outcomes = self.send_bulk(&campaign, &claimed).await;
            tally.bulk_calls += 1;
            for ((email, _), outcome) in claimed.into_iter().zip(outcomes) {
                match outcome {
                    Ok(()) => tally.sent += 1,
                    Err(error) => {
                        tracing::warn!(attempt, error = %error, "SES refused a recipient");
                        self.store.delivery_failed(campaign_id, &email, attempt, &error).await?;
                        if attempt < MAX_ATTEMPTS {
                            retry.push(email);
                        } else {
                            tally.failed += 1;
                        }
                    }
                }
            }
        }
        if !retry.is_empty() {
            let again = CampaignMessage::Deliver {
                campaign_id: campaign_id.to_owned(),
                attempt: attempt + 1,
                recipients: retry,
            };
            self.queue
                .send(&again, self.settings.campaign_retry_seconds * attempt, trace)
                .await?;
        }
        self.store.count(campaign_id, tally).await?;
        Metric::CampaignMailsSent
            .of(i64::try_from(tally.sent).unwrap_or(i64::MAX))
            .add(
                Metric::CampaignMailsFailed,
                i64::try_from(tally.failed).unwrap_or(i64::MAX),
            )
            .with("campaign_id", campaign_id)
            .with("request_id", &trace.request_id)
            .emit();
        tracing::info!(
            attempt,
            sent = tally.sent,
            failed = tally.failed,
            suppressed = tally.suppressed,
            "campaign batch delivered"
        );
        Ok(())
    }

    /// One `SendBulkEmail` to `recipients` (address, unsubscribe token): each one's outcome,
    /// in order. A failed call fails every recipient of it.
    async fn send_bulk(&self, campaign: &CampaignRecord, recipients: &[(String, String)]) -> Vec<Result<(), String>> {
        let parts = Parts {
            subject: &campaign.subject,
            html: &campaign.html,
            text: &campaign.text,
        };
        let (html, text) = match frame(&self.templates, &self.store_name, &parts) {
            Ok(parts) => parts,
            Err(error) => {
                let text = format!("the campaign's mail did not render: {error}");
                return recipients.iter().map(|_| Err(text.clone())).collect();
            }
        };
        let mail = BulkMail {
            subject: &campaign.subject,
            html,
            text,
            defaults: serde_json::json!({
                "store_name": self.store_name,
                "discount_code": campaign.discount_code.clone().unwrap_or_default(),
            }),
            tag: ("campaign", &campaign.campaign_id),
        };
        let recipients = recipients
            .iter()
            .map(|(email, token)| {
                let page = self.settings.unsubscribe_page_url(token);
                let one_click = self.settings.one_click_url(token);
                BulkRecipient {
                    to: email.clone(),
                    data: serde_json::json!({ "email": email, "unsubscribe_url": page }),
                    headers: vec![
                        ("List-Unsubscribe", format!("<{one_click}>")),
                        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".to_owned()),
                    ],
                }
            })
            .collect();
        self.ses.send_bulk(mail, recipients).await
    }
}

/// What a campaign's mail is made of, as the merchant wrote it.
pub(crate) struct Parts<'a> {
    pub subject: &'a str,
    pub html: &'a str,
    pub text: &'a str,
}

/// The campaign's HTML and text inside the shop's layout, the footer carrying the unsubscribe
/// link. The merchant's HTML is placed as it is (it is meant to be HTML, and only the merchant
/// writes it); the SES template fields in it and the footer's `{{unsubscribe_url}}` are filled per
/// recipient by SES.
pub(crate) fn frame(
    templates: &Environment<'_>,
    store_name: &str,
    parts: &Parts<'_>,
) -> Result<(String, String), minijinja::Error> {
    let render = |name: &str, content: Value| {
        templates.get_template(name)?.render(context! {
            store_name,
            subject => parts.subject,
            content,
            unsubscribe_url => "{{unsubscribe_url}}",
        })
    };
    let html = render("campaign.html", Value::from_safe_string(parts.html.to_owned()))?;
    let text = render("campaign.txt", Value::from(parts.text))?;
    Ok((html, text))
}

/// One recipient's values of the SES template fields a campaign may hold, as [`EmailCampaign::send_bulk`]
/// gives them (`defaults` and each recipient's `data`).
pub(crate) struct Fields<'a> {
    pub email: &'a str,
    pub unsubscribe_url: &'a str,
    pub store_name: &'a str,
    pub discount_code: &'a str,
}

/// `framed` (a part [`frame`] made) with `fields` put in, as SES does per recipient: the values
/// escaped in the HTML part (`{{field}}` escapes, as Handlebars does), as they are in the text;
/// any other `{{…}}` is left as written.
pub(crate) fn fill(framed: &str, fields: &Fields<'_>, html: bool) -> String {
    let values = [
        ("email", fields.email),
        ("unsubscribe_url", fields.unsubscribe_url),
        ("store_name", fields.store_name),
        ("discount_code", fields.discount_code),
    ];
    let mut filled = String::with_capacity(framed.len());
    let mut rest = framed;
    while let Some(open) = rest.find("{{") {
        filled.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let field = after.find("}}").and_then(|close| {
            let name = after[..close].trim();
            let (_, value) = values.iter().find(|(field, _)| *field == name)?;
            Some((*value, &after[close + 2..]))
        });
        match field {
            Some((value, next)) if html => {
                filled.push_str(&minijinja::HtmlEscape(value).to_string());
                rest = next;
            }
            Some((value, next)) => {
                filled.push_str(value);
                rest = next;
            }
            None => {
                filled.push_str("{{");
                rest = after;
            }
        }
    }
    filled.push_str(rest);
    filled
}

#[cfg(test)]
mod tests {
    use super::*;

    fn campaign() -> CampaignRecord {
        serde_json::from_value(serde_json::json!({
            "campaign_id": "c-1", "name": "spring", "subject": "Spring <news>",
            "html": "<p>Hello {{email}}</p>", "text": "Hello {{email}}",
            "audience": "subscribers", "status": "sending", "created_at": 0,
            "recipients": 0, "sent": 0, "failed": 0, "suppressed": 0,
        }))
        .unwrap()
    }

    #[test]
    fn a_campaign_goes_out_in_the_shops_layout_with_its_unsubscribe_footer() {
        let templates = crate::templates().unwrap();
        let campaign = campaign();
        let parts = Parts {
            subject: &campaign.subject,
            html: &campaign.html,
            text: &campaign.text,
        };
        let (html, text) = frame(&templates, "Mugs & <Co>", &parts).unwrap();
        assert!(
            html.contains("class=\"shop-header") && html.contains("Mugs &amp; &lt;Co&gt;"),
            "{html}"
        );
        assert!(
            html.contains("<p>Hello {{email}}</p>"),
            "the merchant's HTML as written: {html}"
        );
        assert!(html.contains("href=\"{{unsubscribe_url}}\""), "{html}");
        assert!(!html.contains("<h1"), "the campaign brings its own heading");
        assert!(text.starts_with("Mugs & <Co>\n\nHello {{email}}\n"), "{text}");
        assert!(text.contains("\n-- \nMugs & <Co>\nYou get this mail because you subscribed to Mugs & <Co>."));
        assert!(text.contains("Unsubscribe: {{unsubscribe_url}}"), "{text}");
    }

    #[test]
    fn a_preview_fills_the_known_fields_escaped_in_html_and_leaves_others_as_written() {
        let fields = Fields {
            email: "reader@example.com",
            unsubscribe_url: "https://shop.example/unsubscribe?token=t",
            store_name: "Mugs & <Co>",
            discount_code: "SPRING",
        };
        let framed = "Hi {{email}} of {{ store_name }}: {{discount_code}} {{#if x}} {{unknown}} {{unsubscribe_url}} {{";
        assert_eq!(
            fill(framed, &fields, false),
            "Hi reader@example.com of Mugs & <Co>: SPRING {{#if x}} {{unknown}} https://shop.example/unsubscribe?token=t {{"
        );
        assert!(fill(framed, &fields, true).contains("of Mugs &amp; &lt;Co&gt;: SPRING"));
    }
}
