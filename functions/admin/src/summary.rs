//! `GET /admin/summary`: the day at a glance for the merchant's Today page and for scripts: the
//! UTC day's paid orders and revenue (counted when packing starts), the orders to pack, the
//! returns waiting, the support messages unanswered; and what needs someone: the orders flagged
//! for review (an amount that did not match, a dispute) with the newest few, the mail bounces
//! and complaints of the last [`MAIL_EVENT_DAYS`] days, and the dead-letter queues holding
//! messages (work that failed every retry).

use crate::Admin;
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use shop_domain::Money;
use shop_domain::order::OrderStatus;
use shop_domain::returns::ReturnState;
use shop_platform::ApiError;
use shop_platform::config::Env;
use shop_platform::edge::json;
use shop_services::queue::Queue;
use shop_store::mail_events::MailEventCounts;
use shop_store::orders::fulfillment::day_of;
use shop_store::orders::reviews::ToReview;

/// The most of any count the summary reads (one Query page); more shows as "100+".
const COUNT_CAP: i32 = 100;

/// The orders flagged for review the summary names (the newest); the count says how many wait.
const REVIEWS_SHOWN: usize = 10;

/// The days of SES's bounces and complaints the summary adds up, today included.
pub const MAIL_EVENT_DAYS: u32 = 7;

/// A bounded count.
#[derive(Serialize)]
struct Count {
    count: u32,
    /// More than `count` are there.
    more: bool,
}

impl From<(u32, bool)> for Count {
    fn from((count, more): (u32, bool)) -> Self {
        Self { count, more }
    }
}

#[derive(Serialize)]
struct PaidToday {
    orders: u64,
    revenue: Money,
}

#[derive(Serialize)]
struct DeadLetters {
    queue: String,
    messages: u64,
}

#[derive(Serialize)]
struct Summary {
    /// The UTC day, `YYYY-MM-DD`.
    day: String,
    paid_today: PaidToday,
    /// Paid, packing not started yet (the worker takes them within seconds).
    awaiting_packing: Count,
    to_pack: Count,
    returns_waiting: Count,
    support_unanswered: Count,
    /// Orders flagged for review and not marked reviewed since: how many, and the newest.
    to_review: ToReview,
    /// SES's permanent bounces and complaints of the last [`MAIL_EVENT_DAYS`] UTC days, of
    /// campaign and transactional mail alike.
    mail_events: MailEventCounts,
    /// Only the queues holding messages.
    dead_letters: Vec<DeadLetters>,
    /// Queues whose depth could not be read just now.
    unreadable_queues: Vec<String>,
}

/// The dead-letter queues the summary watches, from `DEAD_LETTER_QUEUES`
/// (`name=url,name=url`); none when unset.
pub fn dead_letter_queues(env: &Env, client: &aws_sdk_sqs::Client) -> Vec<(String, Queue)> {
    env.get("DEAD_LETTER_QUEUES")
        .unwrap_or("")
        .split(',')
        .filter_map(|pair| {
            let (name, url) = pair.trim().split_once('=')?;
            (!name.is_empty() && !url.is_empty()).then(|| (name.to_owned(), Queue::new(client.clone(), url)))
        })
        .collect()
}

impl Admin {
    /// `GET /admin/summary`: one GetItem, five Queries and one BatchGetItem on the table, one
    /// GetQueueAttributes per dead-letter queue, all at once.
    pub(crate) async fn summary(&self, _request: &Request) -> Result<Response<Body>, ApiError> {
        let now = self.clock.now();
        let day = day_of(now);
        let orders = &self.desk.orders;
        let (sales, paid, packing, returns, unanswered, to_review, mail_events, depths) = futures::join!(
            orders.day_sales(&day),
            orders.count_by_status(OrderStatus::Paid, COUNT_CAP),
            orders.count_by_status(OrderStatus::Fulfilling, COUNT_CAP),
            orders.count_returns(ReturnState::Requested, COUNT_CAP),
            self.support.support.count_unanswered(COUNT_CAP),
            orders.to_review(COUNT_CAP, REVIEWS_SHOWN),
            self.mail_events.last_days(now, MAIL_EVENT_DAYS),
            futures::future::join_all(
                self.dead_letters
                    .iter()
                    .map(|(name, queue)| async move { (name.clone(), queue.waiting().await) })
            ),
        );
        let sales = sales?;
        let mut dead_letters = Vec::new();
        let mut unreadable_queues = Vec::new();
        for (queue, depth) in depths {
            match depth {
                Ok(0) => {}
                Ok(messages) => dead_letters.push(DeadLetters { queue, messages }),
                Err(error) => {
                    tracing::warn!(%error, queue, "dead-letter queue depth unreadable");
                    unreadable_queues.push(queue);
                }
            }
        }
        json(
            StatusCode::OK,
            &Summary {
                day,
                paid_today: PaidToday {
                    orders: sales.orders,
                    revenue: Money::new(sales.revenue, self.currency),
                },
                awaiting_packing: paid?.into(),
                to_pack: packing?.into(),
                returns_waiting: returns?.into(),
                support_unanswered: unanswered?.into(),
                to_review: to_review?,
                mail_events: mail_events?,
                dead_letters,
                unreadable_queues,
            },
        )
    }
}
