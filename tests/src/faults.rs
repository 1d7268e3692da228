//! Faults a test injects into the shop's dependencies: into its AWS calls through the IAM proxy
//! (`SHOP_IAM_URL`, infra/src/faults.rs) and into its Stripe calls at the local Stripe server
//! (`STRIPE_API_BASE`, infra/local/stripe_server.py's `/_faults`). Each rule is scoped by a text
//! of the test's own (an order id, a cart id, an address) so that parallel tests are untouched,
//! and it is removed when its [`FaultGuard`] is dropped.

use crate::required;
use reqwest::Client;
use serde_json::Value;
pub use shop_local::faults::{Fault, Rule, When};

/// Where a kind of fault is injected.
pub struct Faults {
    /// The rules' collection URL.
    rules: String,
    client: Client,
    /// The Stripe server wants a secret key on its control routes.
    stripe: bool,
}

impl Faults {
    /// Faults in the hosted functions' AWS calls (the IAM proxy's rules).
    pub fn aws() -> Self {
        Self {
            rules: format!("{}{}", required("SHOP_IAM_URL"), shop_local::faults::ROUTES),
            client: Client::new(),
            stripe: false,
        }
    }

    /// Faults in the shop's Stripe calls (the local Stripe server's rules).
    pub fn stripe() -> Self {
        Self {
            rules: format!("{}/_faults", required("STRIPE_API_BASE").trim_end_matches('/')),
            client: Client::new(),
            stripe: true,
        }
    }

    /// Adds an AWS rule; it stays until the guard is dropped or it fired its times.
    pub async fn inject(&self, rule: &Rule) -> FaultGuard {
        self.inject_json(&serde_json::to_value(rule).expect("a rule is JSON"))
            .await
    }

    /// Adds a rule given as JSON (the Stripe server's: `method`, `path`, `body_contains`,
    /// `times`, `fault`, `when`, `hold_seconds`).
    pub async fn inject_json(&self, rule: &Value) -> FaultGuard {
        let mut request = self.client.post(&self.rules).json(rule);
        if self.stripe {
            request = request.bearer_auth("sk_test_faults");
        }
        let response = request.send().await.expect("the fault routes answer");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 201, "the rule {rule} was refused: {body}");
        let id = body["id"].to_string().trim_matches('"').to_owned();
        FaultGuard {
            url: format!("{}/{id}", self.rules),
            client: self.client.clone(),
            stripe: self.stripe,
        }
    }
}

/// A rule in force; removed when dropped.
pub struct FaultGuard {
    url: String,
    client: Client,
    stripe: bool,
}

impl FaultGuard {
    /// How many calls the rule fired on so far.
    pub async fn fired(&self) -> u64 {
        let mut request = self.client.get(&self.url);
        if self.stripe {
            request = request.bearer_auth("sk_test_faults");
        }
        let body: Value = request
            .send()
            .await
            .expect("the fault routes answer")
            .json()
            .await
            .expect("a rule's count is JSON");
        body["fired"].as_u64().expect("the rule's count")
    }
}

impl Drop for FaultGuard {
    fn drop(&mut self) {
        // Drop cannot wait on the test's runtime: the rule is removed from a thread of its own,
        // with a client of its own (the test's pooled connections live on the test's runtime).
        let (url, stripe) = (self.url.clone(), self.stripe);
        let removed = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async move {
                let mut request = Client::new().delete(&url);
                if stripe {
                    request = request.bearer_auth("sk_test_faults");
                }
                request.send().await.ok()
            })
        });
        let _ = removed.join();
    }
}
