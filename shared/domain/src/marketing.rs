//! Consent and campaigns: who may be mailed marketing (double opt-in, unsubscribe, suppression),
//! what a campaign is, and how its sending is split and counted.

use crate::FieldError;
use serde::{Deserialize, Serialize};

/// The version of the sign-up wording a subscriber agreed to; kept with each consent so the
/// merchant can show what was agreed. Change it when the wording of the sign-up changes.
pub const CONSENT_WORDING: &str = "2026-11-newsletter-v1";
/// Hours a confirmation link works.
pub const CONFIRM_HOURS: i64 = 72;
/// Seconds within which a second sign-up of a pending address mails no second link.
pub const CONFIRM_RESEND_AFTER: i64 = 600;
/// Most recipients of one SES `SendBulkEmail` call, hence of one delivery batch.
pub const BATCH_SIZE: usize = 50;
/// Attempts at one recipient before its failure is final.
pub const MAX_ATTEMPTS: u32 = 3;
/// Longest campaign name and subject.
pub const NAME_MAX: usize = 200;
/// Largest HTML or text body of a campaign, in bytes.
pub const BODY_MAX: usize = 200 * 1024;
/// Longest sign-up source.
pub const SOURCE_MAX: usize = 40;

/// Where an address stands with the shop's marketing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriberStatus {
    /// Signed up; the confirmation link was mailed and not yet followed.
    Pending,
    /// Confirmed: campaigns may be sent.
    Confirmed,
    /// Asked to get no more.
    Unsubscribed,
    /// A campaign or mail to it bounced for good.
    Bounced,
    /// Its owner marked a mail as spam.
    Complained,
}

impl SubscriberStatus {
    /// Whether a campaign may be sent to the address.
    pub fn may_receive_campaigns(self) -> bool {
        self == Self::Confirmed
    }

    /// Whether the address is on the suppression list: nothing is sent to it again, and a new
    /// sign-up is ignored (a bounced or complaining address is not asked again).
    pub fn suppressed(self) -> bool {
        matches!(self, Self::Bounced | Self::Complained)
    }
}

/// What a sign-up does to an address in `status` (`None`: never seen), `now` being Unix
/// seconds and `mailed_at` when its last confirmation link went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignUp {
    /// Store it as pending and mail a confirmation link.
    MailLink,
    /// Nothing: already confirmed, suppressed, or a link went out moments ago.
    Nothing,
}

/// The rule for a sign-up; the answer is 202 whatever it decides, so nobody learns who is
/// subscribed.
pub fn sign_up(status: Option<SubscriberStatus>, mailed_at: Option<i64>, now: i64) -> SignUp {
    match status {
        None | Some(SubscriberStatus::Unsubscribed) => SignUp::MailLink,
        Some(SubscriberStatus::Pending) if mailed_at.is_none_or(|at| now - at >= CONFIRM_RESEND_AFTER) => {
            SignUp::MailLink
        }
        Some(_) => SignUp::Nothing,
    }
}

/// A sign-up's source (`footer`, `checkout`, ...): 1 to 40 lower-case letters, digits, `-`, `_`.
pub fn source(raw: &str) -> Result<String, String> {
    let source = raw.trim().to_ascii_lowercase();
    if (1..=SOURCE_MAX).contains(&source.len())
        && source
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        Ok(source)
    } else {
        Err("a source is 1 to 40 letters, digits, '-' or '_'".to_owned())
    }
}

/// Who a campaign goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// `"subscribers"`: every confirmed subscriber.
    All(AllSubscribers),
    /// `{"source": "footer"}`: the confirmed subscribers who signed up there.
    Source {
        /// The sign-up source.
        source: String,
    },
}

/// The one word naming every subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllSubscribers {
    /// Every confirmed subscriber.
    Subscribers,
}

impl Audience {
    /// The audience's key in the store's index (`all`, `source#footer`).
    pub fn index_key(&self) -> String {
        match self {
            Self::All(_) => "all".to_owned(),
            Self::Source { source } => format!("source#{source}"),
        }
    }
}

/// What a merchant writes to create a campaign, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignDraft {
    /// The merchant's name for it.
    pub name: String,
    /// The mail's subject (one line).
    pub subject: String,
    /// The HTML body.
    pub html: String,
    /// The text body.
    pub text: String,
    /// Who gets it.
    pub audience: Audience,
}

/// A line of 1 to [`NAME_MAX`] characters without control characters (a mail header).
fn one_line(raw: &str, what: &str) -> Result<String, String> {
    let line = raw.trim();
    if line.is_empty() || line.chars().count() > NAME_MAX || !crate::text::is_one_line(line) {
        return Err(format!("{what} is one line of 1 to {NAME_MAX} characters"));
    }
    Ok(line.to_owned())
}

fn body(raw: &str, what: &str) -> Result<String, String> {
    if raw.trim().is_empty() || raw.len() > BODY_MAX {
        return Err(format!("{what} is 1 byte to {} KiB", BODY_MAX / 1024));
    }
    Ok(raw.to_owned())
}

impl CampaignDraft {
    /// Checks every field, naming each refused one.
    pub fn check(
        name: &str,
        subject: &str,
        html: &str,
        text: &str,
        audience: Audience,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut keep = |field: &str, result: Result<String, String>| {
            result
                .map_err(|reason| errors.push(FieldError::new(field, reason)))
                .unwrap_or_default()
        };
        let name = keep("name", one_line(name, "a name"));
        let subject = keep("subject", one_line(subject, "a subject"));
        let html = keep("html", body(html, "the HTML body"));
        let text = keep("text", body(text, "the text body"));
        if let Audience::Source { source: raw } = &audience
            && let Err(reason) = source(raw)
        {
            errors.push(FieldError::new("audience.source", reason));
        }
        if errors.is_empty() {
            Ok(Self {
                name,
                subject,
                html,
                text,
                audience,
            })
        } else {
            Err(errors)
        }
    }
}

/// Where a campaign is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    /// Written, not sent.
    Draft,
    /// Its audience is being paged and its batches sent.
    Sending,
    /// Every recipient was sent to, suppressed or failed for good.
    Sent,
}

/// A campaign's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Recipients found in the audience so far.
    pub recipients: u64,
    /// Mails SES accepted.
    pub sent: u64,
    /// Recipients whose every attempt failed.
    pub failed: u64,
    /// Recipients not mailed because they left or are suppressed.
    pub suppressed: u64,
}

impl Progress {
    /// The status of a campaign whose sending started, once the audience is paged
    /// (`fanned_out`): sent when every recipient is accounted for.
    pub fn status(&self, fanned_out: bool) -> CampaignStatus {
        if fanned_out && self.sent + self.failed + self.suppressed >= self.recipients {
            CampaignStatus::Sent
        } else {
            CampaignStatus::Sending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sign_up_mails_a_link_unless_confirmed_suppressed_or_just_mailed() {
        assert_eq!(sign_up(None, None, 1000), SignUp::MailLink);
        assert_eq!(
            sign_up(Some(SubscriberStatus::Unsubscribed), Some(0), 1000),
            SignUp::MailLink
        );
        assert_eq!(
            sign_up(Some(SubscriberStatus::Pending), Some(900), 1000),
            SignUp::Nothing
        );
        assert_eq!(
            sign_up(Some(SubscriberStatus::Pending), Some(1000 - CONFIRM_RESEND_AFTER), 1000),
            SignUp::MailLink
        );
        for status in [
            SubscriberStatus::Confirmed,
            SubscriberStatus::Bounced,
            SubscriberStatus::Complained,
        ] {
            assert_eq!(sign_up(Some(status), None, 1000), SignUp::Nothing);
        }
    }

    #[test]
    fn only_confirmed_addresses_get_campaigns() {
        assert!(SubscriberStatus::Confirmed.may_receive_campaigns());
        assert!(!SubscriberStatus::Pending.may_receive_campaigns());
        assert!(!SubscriberStatus::Unsubscribed.may_receive_campaigns());
        assert!(SubscriberStatus::Bounced.suppressed() && SubscriberStatus::Complained.suppressed());
    }

    #[test]
    fn audiences_read_as_the_word_or_a_segment() {
        let all: Audience = serde_json::from_str(r#""subscribers""#).unwrap();
        assert_eq!(all.index_key(), "all");
        let footer: Audience = serde_json::from_str(r#"{"source": "footer"}"#).unwrap();
        assert_eq!(footer.index_key(), "source#footer");
        assert!(serde_json::from_str::<Audience>(r#""everyone""#).is_err());
    }

    #[test]
    fn a_draft_names_every_refused_field() {
        let errors = CampaignDraft::check(
            "",
            "two\nlines",
            "<p>hi</p>",
            " ",
            Audience::Source {
                source: "no spaces".into(),
            },
        )
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "subject", "text", "audience.source"]);
    }

    #[test]
    fn a_campaign_is_sent_when_every_recipient_is_accounted_for() {
        let progress = Progress {
            recipients: 7,
            sent: 5,
            failed: 1,
            suppressed: 1,
        };
        assert_eq!(progress.status(true), CampaignStatus::Sent);
        assert_eq!(progress.status(false), CampaignStatus::Sending);
        assert_eq!(Progress { sent: 4, ..progress }.status(true), CampaignStatus::Sending);
    }
}
