//! The console's signed-in sessions, server-side: `STAFF_SESSION#<session id> / SESSION`, one
//! per sign-in, holding a hash of the ID token it was given and when it was last used. A
//! request's token must match its session's record, so signing out (the record deleted) or
//! leaving the console idle ends the session even though the token itself stays valid until it
//! expires. DynamoDB's TTL removes a record after its token's expiry.

use crate::dynamo::{self, Item, StoreError, key, n};
use aws_sdk_dynamodb::Client;
use serde::{Deserialize, Serialize};

/// One signed-in session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffSession {
    /// Who signed in.
    pub email: String,
    /// The hash of the ID token given at sign-in (`shop_platform::secrets::token_hash`).
    pub token_hash: String,
    /// Unix seconds.
    pub signed_in_at: i64,
    /// When a page was last asked for (refreshed at most once a minute).
    pub last_seen: i64,
    /// When the token ends (unix seconds); also the record's TTL.
    pub expires_at: i64,
}

/// The console's sessions in the shop's table.
#[derive(Debug, Clone)]
pub struct StaffSessions {
    client: Client,
    table: String,
}

fn session_key(session_id: &str) -> Item {
    key(format!("STAFF_SESSION#{session_id}"), "SESSION")
}

impl StaffSessions {
    /// The sessions in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Records a sign-in under `session_id`: one PutItem.
    pub async fn start(&self, session_id: &str, session: &StaffSession) -> Result<(), StoreError> {
        let mut item: Item = serde_dynamo::to_item(session)?;
        item.extend(session_key(session_id));
        item.insert("ttl".to_owned(), n(session.expires_at));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map(|_| ())
            .map_err(StoreError::from)
    }

    /// The session `session_id`, if it was started and not ended: one GetItem.
    pub async fn get(&self, session_id: &str) -> Result<Option<StaffSession>, StoreError> {
        let item = dynamo::get_item(&self.client, &self.table, session_key(session_id)).await?;
        item.map(dynamo::record).transpose()
    }

    /// Marks the session used at `now`: one UpdateItem, only on a session that still exists.
    pub async fn seen(&self, session_id: &str, now: i64) -> Result<(), StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(session_key(session_id)))
            .update_expression("SET last_seen = :now")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", dynamo::PK)
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        dynamo::conditional(update).map(|_| ())
    }

    /// Ends the session `session_id` (signed out): one DeleteItem.
    pub async fn end(&self, session_id: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(session_key(session_id)))
            .send()
            .await
            .map(|_| ())
            .map_err(StoreError::from)
    }
}
