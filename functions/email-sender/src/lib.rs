//! `email-sender`: sends the shop's transactional mail. Each message of the email queue asks for
//! one mail about one order or one support message ([`MailRequest`]); the sender reads it, claims the mail in the
//! table (so it goes out once per order, kind and reference), renders it from the templates and
//! sends it with SES v2 `SendEmail`. A failed send gives the claim back and the message is
//! retried; a duplicate finds the mail sent and does nothing.

pub mod facts;
pub mod render;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use facts::{AcknowledgementFacts, Links, MailFacts, RecentOrder, ReplyFacts, Store, SupportFacts};
use render::{RenderError, RenderedMail, Templates};
use serde::Deserialize;
use shop_domain::order::Order;
use shop_platform::QueueFunction;
use shop_platform::batch::process_batch;
use shop_platform::clock::{Clock, SystemClock, rfc3339};
use shop_platform::config::{ConfigError, Env, LocaleSettings, StoreSettings, TableSettings};
use shop_platform::messages::{MailKind, MailRequest};
use shop_platform::metrics::Metric;
use shop_services::ses::{Mail, SesError, SesMailer};
use shop_store::dynamo::StoreError;
use shop_store::mail_log::{Claim, MailLog};
use shop_store::orders::OrderStore;
use shop_store::support::{SupportMessage, SupportReply, SupportStore};
use std::sync::Arc;

/// How many recent orders a lookup mail lists.
const RECENT_ORDERS: i32 = 10;

/// Where mail comes from and goes, from the store's parameters.
#[derive(Debug, Clone, Deserialize)]
struct MailSettings {
    /// The From address (an SES verified identity).
    sender_address: String,
    /// Where the merchant's mails go; empty for none.
    #[serde(default)]
    merchant_email: String,
    /// The SES configuration set (event destinations, reputation); empty for none.
    #[serde(default)]
    ses_configuration_set: String,
    /// The base of order links, `<ORDER_PAGE_URL>/<order_id>?token=…`: the storefront's order
    /// page; empty for the API's own `GET /orders/{order_id}`.
    #[serde(default)]
    order_page_url: String,
    /// The API's public base URL (order links when there is no order page).
    public_api_url: String,
    /// The merchant console's base URL: the merchant's mails link to its order, packing slip
    /// and support pages.
    console_url: String,
    /// Where returns go: lines separated by `|`; empty for none (the mail asks the customer to
    /// write for it).
    #[serde(default)]
    return_address: String,
}

impl MailSettings {
    fn order_page(&self) -> String {
        if self.order_page_url.is_empty() {
            format!("{}/orders", self.public_api_url.trim_end_matches('/'))
        } else {
            self.order_page_url.trim_end_matches('/').to_owned()
        }
    }
}

/// What one mail is about.
enum About {
    Order(Order),
    // Boxed: an order beside it makes the variant large.
    Support {
        message: Box<SupportMessage>,
        /// The order the message's token opened.
        order: Option<Order>,
    },
    /// The merchant's reply to a message.
    Reply {
        message: Box<SupportMessage>,
        reply: SupportReply,
    },
}

impl About {
    /// The customer's address.
    fn customer(&self) -> &str {
        match self {
            Self::Order(order) => order.email.as_str(),
            Self::Support { message, .. } | Self::Reply { message, .. } => &message.email,
        }
    }
}

/// The sender with its clients and templates, built once per instance.
pub struct EmailSender {
    orders: OrderStore,
    support: SupportStore,
    log: MailLog,
    ses: SesMailer,
    templates: Templates,
    settings: MailSettings,
    store: Store,
    clock: Arc<dyn Clock>,
}

/// Why one message could not be handled (it is retried, then dead-lettered).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Not a mail request: retrying will not help; the DLQ keeps it for ops.
    #[error("the message is not a mail request: {0}")]
    Unreadable(String),
    /// Another delivery is sending this mail right now.
    #[error("another delivery is sending this mail; retrying later")]
    Busy,
    /// The mail could not be rendered.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// SES refused or failed.
    #[error("SES: {0}")]
    Ses(#[from] SesError),
    /// The table failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl EmailSender {
    /// Reads settings from `env`, builds the clients and parses the templates.
    pub fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let table: TableSettings = env.parse()?;
        let store: StoreSettings = env.parse()?;
        let settings: MailSettings = env.parse()?;
        let locale = LocaleSettings::from_env(env)?;
        let client = aws_sdk_dynamodb::Client::new(sdk);
        Ok(Self {
            orders: OrderStore::new(client.clone(), table.shop_table.clone()),
            support: SupportStore::new(client.clone(), table.shop_table.clone()),
            log: MailLog::new(client, table.shop_table),
            ses: SesMailer::new(sdk, &settings.sender_address, &settings.ses_configuration_set),
            templates: Templates::load().map_err(|e| ConfigError::new(format!("mail templates: {e}")))?,
            store: Store {
                name: store.store_name,
                locale: locale.store_locale,
                return_address: Store::return_address_lines(&settings.return_address),
            },
            settings,
            clock: Arc::new(SystemClock),
        })
    }

    /// The same sender using `ses` (fault-injection tests).
    pub fn with_ses(mut self, ses: aws_sdk_sesv2::Client) -> Self {
        self.ses = self.ses.with_client(ses);
        self
    }

    /// Handles a batch, reporting the messages that failed.
    pub async fn handle_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        process_batch(event, |request: MailRequest, _trace| self.send_one(request)).await
    }

    async fn send_one(&self, request: MailRequest) -> Result<(), SendError> {
        let kind = request.kind.as_str();
        let about_id = request.about_id();
        let Some(about) = self.about(&request).await? else {
            if request.customer.is_some() {
                tracing::info!(kind, "a lookup for an address without orders; nothing to send");
                return Ok(());
            }
            tracing::error!(
                about = about_id,
                kind,
                "mail about an order or message that does not exist; dropped"
            );
            return Ok(());
        };
        let to = if request.kind.to_merchant() {
            if self.settings.merchant_email.is_empty() {
                tracing::info!(about = about_id, kind, "no merchant address configured; mail not sent");
                return Ok(());
            }
            self.settings.merchant_email.clone()
        } else {
            about.customer().to_owned()
        };
        match self.log.claim(&request, self.clock.now()).await? {
            Claim::Granted => {}
            Claim::AlreadySent => {
                tracing::info!(about = about_id, kind, "mail sent before; not again");
                return Ok(());
            }
            Claim::Busy => return Err(SendError::Busy),
        }
        match self.deliver(&request, &about, &to).await {
            Ok(message_id) => {
                self.log.sent(&request, &message_id).await?;
                tracing::info!(about = about_id, kind, message_id, "mail sent");
                Metric::MailsSent
                    .once()
                    .with("about", about_id)
                    .with("kind", kind)
                    .emit();
                Ok(())
            }
            Err(error) => {
                Metric::MailsFailed
                    .once()
                    .with("about", about_id)
                    .with("kind", kind)
                    .emit();
                // Give the claim back so the retry sends it.
                if let Err(release) = self.log.release(&request).await {
                    tracing::error!(about = about_id, kind, error = %release, "claim not given back; the retry waits out its lease");
                }
                Err(error)
            }
        }
    }

    /// What the mail is about: the order, or the support message with its verified order.
    async fn about(&self, request: &MailRequest) -> Result<Option<About>, SendError> {
        if let Some(customer) = &request.customer {
            // A lookup names the customer: the mail is about their latest order.
            let latest = self.orders.order_ids_of_customer(customer, 1).await?;
            let Some(order_id) = latest.first() else {
                return Ok(None);
            };
            let order = self.orders.get(order_id).await?;
            return Ok(order.map(About::Order));
        }
        if !request.kind.is_support() {
            let order = self.orders.get(&request.order_id).await?;
            return Ok(order.map(About::Order));
        }
        let Some(reference) = &request.reference else {
            return Err(SendError::Unreadable("a support mail without its message".into()));
        };
        if request.kind == MailKind::SupportReply {
            let reply = self.support.reply(reference).await?;
            return Ok(reply.map(|(message, reply)| About::Reply {
                message: Box::new(message),
                reply,
            }));
        }
        let Some(message) = self.support.get(reference).await? else {
            return Ok(None);
        };
        let order = match &message.order_id {
            Some(id) => self.orders.get(id).await?,
            None => None,
        };
        Ok(Some(About::Support {
            message: Box::new(message),
            order,
        }))
    }

    async fn deliver(&self, request: &MailRequest, about: &About, to: &str) -> Result<String, SendError> {
        match about {
            About::Order(order) => {
                let mail = self.order_mail(request, order).await?;
                self.send_email(request, to, None, mail).await
            }
            About::Support { message, .. } if request.kind == MailKind::SupportReceived => {
                // The acknowledgement says the reference and fixed words, nothing the caller sent.
                let facts = AcknowledgementFacts {
                    store_name: &self.store.name,
                    reference: &message.reference,
                };
                let mail = self.templates.render_acknowledgement(&facts)?;
                self.send_email(request, to, None, mail).await
            }
            About::Reply { message, reply } => {
                let facts = ReplyFacts {
                    store_name: &self.store.name,
                    reference: &message.reference,
                    reply: &reply.body,
                };
                let mail = self.templates.render_reply(&facts)?;
                // The customer answers the merchant by replying.
                let merchant = Some(self.settings.merchant_email.as_str()).filter(|m| !m.is_empty());
                self.send_email(request, to, merchant, mail).await
            }
            About::Support { message, order } => {
                let base = self.settings.console_url.trim_end_matches('/');
                let facts = SupportFacts {
                    store_name: &self.store.name,
                    reference: &message.reference,
                    customer_email: &message.email,
                    subject: &message.subject,
                    body: &message.body,
                    received_at: rfc3339(message.received_at),
                    unverified_order_id: message.unverified_order_id.as_deref(),
                    admin_order_url: order.as_ref().map(|o| format!("{base}/orders/{}", o.order_id)),
                    console_message_url: format!("{base}/support/{}", message.reference),
                    order: order
                        .as_ref()
                        .map(|order| {
                            let links = Links {
                                order_url: None,
                                console_base: Some(base),
                            };
                            MailFacts::of(&self.store, order, request, links)
                        })
                        .transpose()?,
                };
                let mail = self.templates.render_support(&facts)?;
                // The merchant answers the customer by replying.
                self.send_email(request, to, Some(message.email.as_str()), mail).await
            }
        }
    }

    async fn order_mail(&self, request: &MailRequest, order: &Order) -> Result<RenderedMail, SendError> {
        let order_url = if request.kind.to_merchant() || request.kind == MailKind::OrderLookup {
            None
        } else {
            let token = self.orders.issue_link_token(order, self.clock.now()).await?;
            Some(format!(
                "{}/{}?token={token}",
                self.settings.order_page(),
                order.order_id
            ))
        };
        let links = Links {
            order_url: order_url.as_deref(),
            console_base: Some(self.settings.console_url.as_str()),
        };
        let mut facts = MailFacts::of(&self.store, order, request, links)?;
        if request.kind == MailKind::OrderLookup {
            facts = facts.with_recent_orders(self.recent_orders(order).await?);
        }
        Ok(self.templates.render(request.kind, &facts)?)
    }

    /// The customer's most recent orders, each with a link of its own.
    async fn recent_orders(&self, latest: &Order) -> Result<Vec<RecentOrder>, SendError> {
        let ids = self.orders.order_ids_of(&latest.email, RECENT_ORDERS).await?;
        let mut recent = Vec::new();
        for order in self.orders.get_many(&ids).await? {
            let token = self.orders.issue_link_token(&order, self.clock.now()).await?;
            recent.push(RecentOrder {
                url: format!("{}/{}?token={token}", self.settings.order_page(), order.order_id),
                placed: rfc3339(order.created_at),
                status: order.status.as_str(),
                total: order.totals.total.display(self.store.locale),
                order_id: order.order_id,
            });
        }
        Ok(recent)
    }

    async fn send_email(
        &self,
        request: &MailRequest,
        to: &str,
        reply_to: Option<&str>,
        mail: RenderedMail,
    ) -> Result<String, SendError> {
        let mail = Mail {
            to: to.to_owned(),
            reply_to: reply_to.map(str::to_owned),
            subject: mail.subject,
            html: mail.html,
            text: mail.text,
            tag: ("kind", request.kind.as_str().to_owned()),
        };
        Ok(self.ses.send(mail).await?)
    }
}

impl QueueFunction for EmailSender {
    fn handle_batch(&self, event: SqsEvent) -> futures::future::BoxFuture<'_, SqsBatchResponse> {
        Box::pin(EmailSender::handle_batch(self, event))
    }
}
