//! The shop's one DynamoDB table (see DESIGN.md for its layout): the table helpers (`dynamo`)
//! and one module per thing the table holds. Nothing here calls another service.

pub mod audit;
pub mod carts;
pub mod catalog;
pub mod discounts;
pub mod dynamo;
pub mod mail_events;
pub mod mail_log;
pub mod marketing;
pub mod orders;
pub mod rate_limits;
pub mod staff_sessions;
pub mod support;
