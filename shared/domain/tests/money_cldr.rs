//! The shop's money formatter against ICU: every locale and currency of `src/locale.rs`, a few
//! amounts each, as `money_cldr.mjs` recorded Node's `Intl.NumberFormat` writing them.

use shop_domain::locale::KNOWN_CURRENCIES;
use shop_domain::{Currency, Locale, Money};
use std::collections::BTreeSet;

#[derive(serde::Deserialize)]
struct Recorded {
    cldr: String,
    cases: Vec<(String, String, i64, String)>,
}

fn recorded() -> Recorded {
    serde_json::from_str(include_str!("money_cldr.json")).expect("money_cldr.json reads")
}

#[test]
fn every_locale_writes_every_known_currency_as_icu_does() {
    let recorded = recorded();
    assert_eq!(recorded.cldr, "48.0", "the tables follow CLDR 48");
    let mut wrong = Vec::new();
    for (tag, currency, amount, icu) in &recorded.cases {
        let locale = Locale::parse(tag).expect("a supported locale");
        let money = Money::new(*amount, Currency::parse(currency).expect("a currency"));
        let ours = money.display(locale);
        if &ours != icu {
            wrong.push(format!("{tag} {currency} {amount}: ours {ours:?}, ICU {icu:?}"));
        }
    }
    assert!(wrong.is_empty(), "{} differ:\n{}", wrong.len(), wrong.join("\n"));
}

#[test]
fn the_recording_covers_every_supported_locale_and_known_currency() {
    let recorded = recorded();
    let locales: BTreeSet<&str> = recorded.cases.iter().map(|c| c.0.as_str()).collect();
    let currencies: BTreeSet<&str> = recorded.cases.iter().map(|c| c.1.as_str()).collect();
    assert_eq!(locales, Locale::SUPPORTED.into_iter().collect());
    assert_eq!(currencies, KNOWN_CURRENCIES.into_iter().collect());
}
