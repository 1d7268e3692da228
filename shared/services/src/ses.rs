//! The shop's one SES adapter: a transactional mail to one address (`send`), and a campaign's
//! templated mail to many in one `SendBulkEmail` (`send_bulk`). Every mail goes out from the
//! shop's sender address, in UTF-8, through its configuration set when one is named (so SES
//! reports bounces and complaints), and carries a tag that says what it is.

use aws_sdk_sesv2::error::DisplayErrorContext;
use aws_sdk_sesv2::types::{
    Body, BulkEmailContent, BulkEmailEntry, BulkEmailStatus, Content, Destination, EmailContent, EmailTemplateContent,
    Message, MessageHeader, MessageTag, ReplacementEmailContent, ReplacementTemplate, Template,
};

/// SES refused a mail, or the mail could not be put in its terms.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SesError(String);

/// One mail to one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The recipient.
    pub to: String,
    /// Where replies go, when not to the sender.
    pub reply_to: Option<String>,
    /// The subject line.
    pub subject: String,
    /// The HTML part.
    pub html: String,
    /// The plain-text part.
    pub text: String,
    /// The tag SES reports the mail under (name, value), e.g. `("kind", "shipped")`.
    pub tag: (&'static str, String),
}

/// One recipient of a bulk mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The address.
    pub to: String,
    /// The template's data for this recipient (a JSON object).
    pub data: serde_json::Value,
    /// Headers of this recipient's copy (e.g. `List-Unsubscribe`).
    pub headers: Vec<(&'static str, String)>,
}

/// A templated mail to many: SES fills the template for each recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkMail<'a> {
    /// The subject template.
    pub subject: &'a str,
    /// The HTML template.
    pub html: String,
    /// The plain-text template.
    pub text: String,
    /// The template's data every recipient shares (a JSON object).
    pub defaults: serde_json::Value,
    /// The tag SES reports every copy under.
    pub tag: (&'static str, &'a str),
}

/// Sends the shop's mail through SES.
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    from: String,
    configuration_set: Option<String>,
}

impl SesMailer {
    /// Mail from `from`, through `configuration_set` unless it is empty.
    pub fn new(sdk: &aws_config::SdkConfig, from: impl Into<String>, configuration_set: &str) -> Self {
        Self {
            client: aws_sdk_sesv2::Client::new(sdk),
            from: from.into(),
            configuration_set: (!configuration_set.is_empty()).then(|| configuration_set.to_owned()),
        }
    }

    /// The same mailer calling SES through `client` (tests that count or fail SES calls).
    pub fn with_client(mut self, client: aws_sdk_sesv2::Client) -> Self {
        self.client = client;
        self
    }

    /// Sends `mail`; SES's message id.
    pub async fn send(&self, mail: Mail) -> Result<String, SesError> {
        let message = Message::builder()
            .subject(content(mail.subject)?)
            .body(
                Body::builder()
                    .html(content(mail.html)?)
                    .text(content(mail.text)?)
                    .build(),
            )
            .build();
        let output = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(mail.to).build())
            .set_reply_to_addresses(mail.reply_to.map(|address| vec![address]))
            .content(EmailContent::builder().simple(message).build())
            .email_tags(tag(mail.tag.0, &mail.tag.1)?)
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(|error| SesError(DisplayErrorContext(&error).to_string()))?;
        Ok(output.message_id.unwrap_or_default())
    }

    /// Sends `mail` to each of `recipients` in one call: each one's outcome, in order. A failed
    /// call fails every recipient of it.
    pub async fn send_bulk(&self, mail: BulkMail<'_>, recipients: Vec<Recipient>) -> Vec<Result<(), String>> {
        let count = recipients.len();
        let fail_all = |text: String| (0..count).map(|_| Err(text.clone())).collect();
        let tag = match tag(mail.tag.0, mail.tag.1) {
            Ok(tag) => tag,
            Err(error) => return fail_all(error.0),
        };
        let template = Template::builder()
            .template_content(
                EmailTemplateContent::builder()
                    .subject(mail.subject)
                    .html(mail.html)
                    .text(mail.text)
                    .build(),
            )
            .template_data(mail.defaults.to_string())
            .build();
        let entries = recipients
            .into_iter()
            .map(|recipient| {
                let headers = recipient
                    .headers
                    .into_iter()
                    .filter_map(|(name, value)| MessageHeader::builder().name(name).value(value).build().ok())
                    .collect();
                BulkEmailEntry::builder()
                    .destination(Destination::builder().to_addresses(recipient.to).build())
                    .replacement_email_content(
                        ReplacementEmailContent::builder()
                            .replacement_template(
                                ReplacementTemplate::builder()
                                    .replacement_template_data(recipient.data.to_string())
                                    .build(),
                            )
                            .build(),
                    )
                    .set_replacement_headers(Some(headers))
                    .build()
            })
            .collect();
        let sent = self
            .client
            .send_bulk_email()
            .from_email_address(&self.from)
            .default_content(BulkEmailContent::builder().template(template).build())
            .set_bulk_email_entries(Some(entries))
            .set_configuration_set_name(self.configuration_set.clone())
            .default_email_tags(tag)
            .send()
            .await;
        match sent {
            Ok(output) => {
                let results = output.bulk_email_entry_results();
                (0..count)
                    .map(|i| match results.get(i) {
                        Some(entry) if entry.status() == Some(&BulkEmailStatus::Success) => Ok(()),
                        Some(entry) => Err(entry
                            .error()
                            .map(str::to_owned)
                            .unwrap_or_else(|| format!("{:?}", entry.status()))),
                        None => Err("SES gave no result for this recipient".to_owned()),
                    })
                    .collect()
            }
            Err(error) => fail_all(DisplayErrorContext(&error).to_string()),
        }
    }
}

fn content(data: String) -> Result<Content, SesError> {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .map_err(|error| SesError(error.to_string()))
}

fn tag(name: &str, value: &str) -> Result<MessageTag, SesError> {
    MessageTag::builder()
        .name(name)
        .value(value)
        .build()
        .map_err(|error| SesError(error.to_string()))
}
