//! The audit log of the console: every staff action that changed something, as
//! `AUDIT#<at>#<id> / ENTRY`, listed newest first on `gsi1` (`AUDIT#entries`). An entry is
//! written once and never changed.

use crate::dynamo::{self, GSI1PK, GSI1SK, Item, ListError, Page, StoreError, key, s};
use aws_sdk_dynamodb::Client;
use serde::{Deserialize, Serialize};
use shop_domain::{Cursor, PageLimit};

const LISTING: &str = "AUDIT#entries";

/// One staff action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Unique within its second (a random token).
    pub id: String,
    /// Unix seconds.
    pub at: i64,
    /// Who: the staff member's sign-in email.
    pub staff: String,
    /// What, in a few words (`shipped`, `product saved`, `staff added`, ...).
    pub action: String,
    /// What it was done to (`order ORD-…`, `product tea-towels`, ...).
    pub subject: String,
    /// The thing before, as the console read it (compact JSON or words); `None`: it did not exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// The thing after; `None`: it is gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// The console request that did it (for the logs).
    pub request_id: String,
}

/// The audit log in the shop's table.
#[derive(Debug, Clone)]
pub struct AuditLog {
    client: Client,
    table: String,
}

impl AuditLog {
    /// The log in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Writes `entry`: one PutItem, refused if an entry with its key exists.
    pub async fn record(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let sort = format!("{:012}#{}", entry.at, entry.id);
        let mut item: Item = serde_dynamo::to_item(entry)?;
        item.extend(key(format!("AUDIT#{sort}"), "ENTRY"));
        item.insert(GSI1PK.to_owned(), s(LISTING));
        item.insert(GSI1SK.to_owned(), s(sort));
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", dynamo::PK)
            .send()
            .await;
        put.map(|_| ()).map_err(StoreError::from)
    }

    /// Entries newest first: one Query on `gsi1`.
    pub async fn newest(&self, limit: PageLimit, cursor: Option<&Cursor>) -> Result<Page<AuditEntry>, ListError> {
        let (items, next_cursor) = dynamo::index_page(&self.client, &self.table, LISTING, limit, cursor, false).await?;
        let items = items
            .into_iter()
            .map(dynamo::record)
            .collect::<Result<Vec<AuditEntry>, _>>()?;
        Ok(Page { items, next_cursor })
    }
}
