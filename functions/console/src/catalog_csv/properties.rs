//! Property tests of the catalog file (issue #21): any file is read without panicking and every
//! mistake is placed on a line; a catalog the shop exports reads back as the same products. A
//! fixed number of cases from a fixed seed (`PROPTEST_RNG_SEED` explores others), no failure
//! file: a case found becomes a named test in the parent module.

use super::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use shop_domain::{CategorySlug, ProductId, ProductStatus, Sku, Slug, Variant};

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

fn usd() -> Currency {
    Currency::parse("usd").unwrap()
}

/// Text a merchant types in one cell: printable ASCII (quotes, commas, `|` and `=` included),
/// sometimes other scripts.
fn cell_text(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::string::string_regex(&format!("[ -~]{{1,{max}}}")).unwrap(),
        1 => proptest::string::string_regex(&format!("\\PC{{1,{max}}}")).unwrap(),
    ]
}

fn variant() -> impl Strategy<Value = Variant> {
    (
        "[A-Za-z0-9][A-Za-z0-9._-]{0,12}",
        proptest::collection::btree_map(cell_text(10), cell_text(12), 0..3),
        0i64..=100_000_000,
        0u32..=1_000_000,
    )
        .prop_map(|(sku, options, amount, available)| Variant {
            sku: Sku::parse(&sku).unwrap(),
            options,
            price: Money::new(amount, usd()),
            available,
        })
}

/// A product as the admin API keeps it.
fn product() -> impl Strategy<Value = Product> {
    (
        "[a-z0-9][a-z0-9_-]{0,15}",
        "[a-z0-9]{1,6}(-[a-z0-9]{1,6}){0,2}",
        cell_text(40),
        prop_oneof![Just(String::new()), cell_text(60), "[ -~\n\t]{0,60}"],
        proptest::collection::vec("[a-z0-9]{1,6}(-[a-z0-9]{1,6}){0,1}", 0..3),
        proptest::collection::vec("(https://img\\.example/|/images/)[!-~]{1,20}", 0..3),
        proptest::collection::btree_map(cell_text(12), cell_text(20), 0..3),
        proptest::collection::vec(variant(), 1..4),
        prop_oneof![
            Just(ProductStatus::Active),
            Just(ProductStatus::Draft),
            Just(ProductStatus::Archived)
        ],
    )
        .prop_map(
            |(id, slug, title, description, tags, images, attributes, variants, status)| Product {
                id: ProductId::parse(&id).unwrap(),
                slug: Slug::parse(&slug).unwrap(),
                title,
                description,
                category: CategorySlug::parse("home").unwrap(),
                tags,
                images,
                attributes,
                variants,
                status,
            },
        )
        .prop_filter_map("the admin API accepts it", |product| {
            Product::from_json(serde_json::to_value(product).ok()?, usd()).ok()
        })
}

/// A file with a header of the known columns and rows of CSV-like cells.
fn file_like() -> impl Strategy<Value = Vec<u8>> {
    let header = proptest::sample::subsequence(COLUMNS.to_vec(), 0..=COLUMNS.len())
        .prop_shuffle()
        .prop_map(|columns| columns.join(","));
    let row = proptest::collection::vec(prop_oneof!["[ -~]{0,12}", "\"[ -~\n]{0,12}\"", "[0-9.]{0,6}"], 0..14)
        .prop_map(|cells| cells.join(","));
    prop_oneof![
        3 => (header, proptest::collection::vec(row, 0..8))
            .prop_map(|(header, rows)| format!("{header}\n{}", rows.join("\n")).into_bytes()),
        1 => proptest::collection::vec(any::<u8>(), 0..400),
    ]
}

proptest! {
    #![proptest_config(bounded(300))]

    #[test]
    fn any_file_is_read_without_panicking_and_its_mistakes_are_on_its_lines(bytes in file_like()) {
        let file = read(&bytes, usd());
        let lines = u64::try_from(bytes.iter().filter(|b| **b == b'\n').count()).unwrap() + 1;
        for error in &file.errors {
            prop_assert!(error.line <= lines, "{:?} beyond line {}", error, lines);
        }
        for product in &file.products {
            prop_assert!(!product.lines.is_empty());
            prop_assert!(product.lines.windows(2).all(|pair| pair[0] < pair[1]), "{:?}", product.lines);
            prop_assert_eq!(product.product["variants"].as_array().map(Vec::len), Some(product.lines.len()));
            for field in ["variants[0].price.amount", "variants[99].sku", "variants[", "title", "attributes.x", ""] {
                let (line, _) = product.locate(field);
                prop_assert!(product.lines.contains(&line));
            }
        }
    }

    #[test]
    fn an_exported_catalog_reads_back_as_the_same_products(products in proptest::collection::vec(product(), 1..4)) {
        let mut seen = std::collections::HashSet::new();
        let products: Vec<Product> = products.into_iter().filter(|p| seen.insert(p.id.clone())).collect();
        let exported = write(&products).unwrap();
        let file = read(exported.as_bytes(), usd());
        prop_assert_eq!(&file.errors, &Vec::<CsvError>::new());
        let again: Vec<Result<Product, _>> =
            file.products.into_iter().map(|rows| Product::from_json(rows.product, usd())).collect();
        let expected: Vec<Result<Product, _>> = products.into_iter().map(Ok).collect();
        prop_assert_eq!(again, expected);
    }
}
