//! Property tests of what the store reads back from a client (issue #21): a paging cursor names a
//! start key only within the listing that handed it out, and a support reply's id reads back as
//! the message and number it was made of. A fixed number of cases from a fixed seed
//! (`PROPTEST_RNG_SEED` explores others), no failure file.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use shop_domain::Cursor;
use shop_store::dynamo::{self, GSI1PK, GSI1SK, PK, SK};
use shop_store::support::{parse_reply_id, reply_id};

/// `cases` cases from a fixed seed, without a failure file.
fn bounded(cases: u32) -> Config {
    let mut config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(21);
    }
    config
}

/// A key attribute's name: mostly the table's own, sometimes another.
fn attribute() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop_oneof![Just(PK), Just(SK), Just(GSI1PK), Just(GSI1SK)].prop_map(str::to_owned),
        1 => "[a-z0-9]{1,7}",
    ]
}

proptest! {
    #![proptest_config(bounded(500))]

    #[test]
    fn a_cursor_names_a_start_key_only_in_its_own_listing(
        position in proptest::collection::btree_map(attribute(), prop_oneof!["LIST#[A-Z]{1,3}", "\\PC{0,12}"], 0..6),
        partition in "LIST#[A-Z]{1,3}",
    ) {
        if let Ok(start) = dynamo::index_start_key(&Cursor(position), &partition) {
            let mut names: Vec<&str> = start.keys().map(String::as_str).collect();
            names.sort_unstable();
            prop_assert_eq!(names, vec![GSI1PK, GSI1SK, PK, SK]);
            prop_assert_eq!(start.get(GSI1PK).and_then(|v| v.as_s().ok()), Some(&partition));
        }
    }

    #[test]
    fn the_cursor_of_a_pages_last_item_starts_the_next_page_there(
        pk in "\\PC{1,20}", sk in "\\PC{1,20}", sort in "\\PC{1,20}", partition in "LIST#[A-Z]{1,3}",
    ) {
        let key = [(PK, pk), (SK, sk), (GSI1PK, partition.clone()), (GSI1SK, sort)]
            .into_iter()
            .map(|(name, value)| (name.to_owned(), dynamo::s(value)))
            .collect();
        let cursor = dynamo::index_cursor(&key);
        prop_assert_eq!(dynamo::index_start_key(&cursor, &partition), Ok(key.clone()));
        let other = format!("{partition}X");
        prop_assert!(dynamo::index_start_key(&cursor, &other).is_err());
    }

    #[test]
    fn a_reply_id_reads_back_as_its_message_and_number(
        reference in "SUP-[A-Z0-9-]{1,12}", number in 1usize..10_000, other in "\\PC{0,20}",
    ) {
        let id = reply_id(&reference, number);
        prop_assert_eq!(parse_reply_id(&id), Some((reference.as_str(), number)));
        if let Some((message, n)) = parse_reply_id(&other) {
            prop_assert!(message.starts_with("SUP-") && n > 0);
            prop_assert_eq!(reply_id(message, n), other);
        }
    }
}
