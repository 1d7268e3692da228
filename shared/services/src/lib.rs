//! The services the shop calls besides its table: SQS queues (`queue`, and `mail`, which asks
//! for a transactional mail through one), Stripe (`payments`) and SES (`ses`).

pub mod mail;
pub mod payments;
pub mod queue;
pub mod ses;
