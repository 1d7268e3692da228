//! The services the shop calls besides its table: SQS queues (`queue`, and `mail`, which asks
//! for a transactional mail through one), Stripe (`payments`) and SES (`ses`); and cancelling
//! an order (`cancellation`), which takes the table, Stripe and the mail queue together.

pub mod cancellation;
pub mod mail;
pub mod payments;
pub mod queue;
pub mod ses;
