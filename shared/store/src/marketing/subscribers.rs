//! The subscriber list: sign-ups, confirmations, imports, leaving, audiences.

use super::*;

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

impl MarketingStore {
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
            put(unconfirmed_item(&subscriber)?, Some(condition), &self.table)?,
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

    /// The address an unsubscribe token names, if any.
    pub async fn unsubscriber(&self, token: &str) -> Result<Option<String>, StoreError> {
        let item = dynamo::get_item(&self.client, &self.table, unsubscribe_key(&secrets::token_hash(token))).await?;
        Ok(item.and_then(|item| dynamo::get_s(&item, "email").map(str::to_owned)))
    }

    /// Ends `email`'s subscription (`Unsubscribed`) or puts it on the suppression list
    /// (`Bounced`, `Complained`), creating the record for an address never subscribed (listed
    /// as unconfirmed). A suppression is never turned back into a plain unsubscribe.
    pub async fn leave(&self, email: &str, status: SubscriberStatus, now: i64) -> Result<(), StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(subscriber_key(email)))
            .update_expression(
                "SET #status = :status, left_at = :now, email = :email, \
                 #source = if_not_exists(#source, :none), created_at = if_not_exists(created_at, :now), \
                 #index = if_not_exists(#index, :unconfirmed), #sort = if_not_exists(#sort, :email) \
                 ADD version :one",
            )
            .expression_attribute_names("#index", GSI1PK)
            .expression_attribute_names("#sort", GSI1SK)
            .expression_attribute_values(":unconfirmed", s(UNCONFIRMED))
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
            .map(|text| shop_platform::keys::open_cursor(text).and_then(|c| dynamo::index_start_key(&c, &partition)))
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
                .map(|k| shop_platform::keys::seal_cursor(&dynamo::index_cursor(&k))),
        ))
    }
}
