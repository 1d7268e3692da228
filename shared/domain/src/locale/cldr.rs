//! How each locale writes money, from CLDR 48: decimal and group separators, the minimum
//! grouping digits, the minus sign, where the symbol goes, and the symbol of each currency the
//! shop knows (`tests/money_cldr.json` records ICU 78 writing them).

/// U+00A0, the no-break space CLDR puts between a number and a currency symbol.
pub(super) const NBSP: char = '\u{a0}';
/// U+202F, the narrow no-break space French groups thousands with.
const NNBSP: char = '\u{202f}';
/// U+2212, the minus sign of Swedish, Norwegian and Finnish.
pub(super) const MINUS: char = '\u{2212}';

/// Where a locale puts the currency symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Placement {
    /// `¤#,##0.00` (English, Japanese): the symbol before the number, touching it unless the
    /// symbol ends in a letter (`CHF 12.50`; CLDR's currency spacing).
    Before,
    /// `¤ #,##0.00` (Austrian German): the symbol, a no-break space, the number; a minus
    /// leads (`-€ 12,50`).
    BeforeSpaced,
    /// `¤ #,##0.00;¤ -#,##0.00` (Dutch): as above, the minus after the symbol (`€ -12,50`).
    BeforeSpacedMinusInside,
    /// `#,##0.00 ¤` (most of Europe): the number, a no-break space, the symbol.
    After,
}

/// How one locale writes money.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct LocaleRules {
    /// The BCP 47 tag, as the `StoreLocale` parameter names it.
    pub(super) tag: &'static str,
    pub(super) decimal: char,
    pub(super) group: char,
    /// CLDR's `minimumGroupingDigits`: 2 leaves four-digit amounts ungrouped (`1234,56 €`).
    pub(super) min_grouping: usize,
    pub(super) minus: char,
    pub(super) placement: Placement,
    /// The currency symbols the locale uses (CLDR `currencies/…/symbol`); a currency not
    /// named is written with its ISO code (`CHF`).
    pub(super) symbols: &'static [(&'static str, &'static str)],
}

/// The currencies the symbol tables know. A currency outside it is written with its upper-case
/// ISO code, which is what CLDR does for a currency without a symbol.
pub const KNOWN_CURRENCIES: [&str; 12] = [
    "usd", "eur", "gbp", "cad", "aud", "nzd", "chf", "sek", "dkk", "nok", "pln", "jpy",
];

/// English outside the United States (CLDR's `en_001`), which tells dollars apart.
const EN_001: &[(&str, &str)] = &[
    ("usd", "US$"),
    ("eur", "€"),
    ("gbp", "£"),
    ("cad", "CA$"),
    ("aud", "A$"),
    ("nzd", "NZ$"),
    ("jpy", "JP¥"),
];

const FR: &[(&str, &str)] = &[
    ("usd", "$US"),
    ("eur", "€"),
    ("gbp", "£GB"),
    ("cad", "$CA"),
    ("aud", "$AU"),
    ("nzd", "$NZ"),
];

const NL: &[(&str, &str)] = &[
    ("usd", "US$"),
    ("eur", "€"),
    ("gbp", "£"),
    ("cad", "C$"),
    ("aud", "AU$"),
    ("nzd", "NZ$"),
    ("jpy", "JP¥"),
];

const DE: &[(&str, &str)] = &[
    ("usd", "$"),
    ("eur", "€"),
    ("gbp", "£"),
    ("cad", "CA$"),
    ("aud", "AU$"),
    ("nzd", "NZ$"),
    ("jpy", "¥"),
];

const fn rules(
    tag: &'static str,
    decimal: char,
    group: char,
    placement: Placement,
    symbols: &'static [(&'static str, &'static str)],
) -> LocaleRules {
    LocaleRules {
        tag,
        decimal,
        group,
        min_grouping: 1,
        minus: '-',
        placement,
        symbols,
    }
}

/// Every locale the shop writes money for (the `StoreLocale` parameter's allowed values).
pub(super) static LOCALES: [LocaleRules; 21] = [
    rules(
        "en-US",
        '.',
        ',',
        Placement::Before,
        &[
            ("usd", "$"),
            ("eur", "€"),
            ("gbp", "£"),
            ("cad", "CA$"),
            ("aud", "A$"),
            ("nzd", "NZ$"),
            ("jpy", "¥"),
        ],
    ),
    rules("en-GB", '.', ',', Placement::Before, EN_001),
    rules(
        "en-CA",
        '.',
        ',',
        Placement::Before,
        &[
            ("usd", "US$"),
            ("eur", "€"),
            ("gbp", "£"),
            ("cad", "$"),
            ("aud", "A$"),
            ("nzd", "NZ$"),
            ("jpy", "JP¥"),
        ],
    ),
    // Australian English names every currency but its own by its code.
    rules("en-AU", '.', ',', Placement::Before, &[("aud", "$")]),
    rules(
        "en-NZ",
        '.',
        ',',
        Placement::Before,
        &[
            ("usd", "US$"),
            ("eur", "€"),
            ("gbp", "£"),
            ("cad", "CA$"),
            ("aud", "A$"),
            ("nzd", "$"),
            ("jpy", "JP¥"),
        ],
    ),
    rules("en-IE", '.', ',', Placement::Before, EN_001),
    rules("de-DE", ',', '.', Placement::After, DE),
    rules("de-AT", ',', '.', Placement::BeforeSpaced, DE),
    rules("fr-FR", ',', NNBSP, Placement::After, FR),
    rules(
        "fr-CA",
        ',',
        NBSP,
        Placement::After,
        &[
            ("usd", "$\u{a0}US"),
            ("eur", "€"),
            ("gbp", "£"),
            ("cad", "$"),
            ("aud", "$\u{a0}AU"),
            ("nzd", "$\u{a0}NZ"),
            ("jpy", "¥"),
        ],
    ),
    rules("fr-BE", ',', NNBSP, Placement::After, FR),
    rules("nl-NL", ',', '.', Placement::BeforeSpacedMinusInside, NL),
    rules("nl-BE", ',', '.', Placement::BeforeSpacedMinusInside, NL),
    LocaleRules {
        min_grouping: 2,
        ..rules("es-ES", ',', '.', Placement::After, &[("usd", "US$"), ("eur", "€")])
    },
    LocaleRules {
        min_grouping: 2,
        ..rules(
            "it-IT",
            ',',
            '.',
            Placement::After,
            &[
                ("eur", "€"),
                ("gbp", "£"),
                ("cad", "CA$"),
                ("aud", "A$"),
                ("nzd", "NZ$"),
            ],
        )
    },
    LocaleRules {
        minus: MINUS,
        ..rules(
            "sv-SE",
            ',',
            NBSP,
            Placement::After,
            &[
                ("usd", "US$"),
                ("eur", "€"),
                ("cad", "CA$"),
                ("sek", "kr"),
                ("dkk", "Dkr"),
                ("nok", "Nkr"),
            ],
        )
    },
    rules(
        "da-DK",
        ',',
        '.',
        Placement::After,
        &[
            ("usd", "US$"),
            ("eur", "€"),
            ("gbp", "£"),
            ("cad", "CA$"),
            ("aud", "AU$"),
            ("nzd", "NZ$"),
            ("dkk", "kr."),
            ("jpy", "JP¥"),
        ],
    ),
    LocaleRules {
        minus: MINUS,
        ..rules(
            "nb-NO",
            ',',
            NBSP,
            Placement::After,
            &[("eur", "€"), ("gbp", "£"), ("nok", "kr")],
        )
    },
    LocaleRules {
        minus: MINUS,
        ..rules(
            "fi-FI",
            ',',
            NBSP,
            Placement::After,
            &[("usd", "$"), ("eur", "€"), ("gbp", "£"), ("jpy", "¥")],
        )
    },
    LocaleRules {
        min_grouping: 2,
        ..rules("pl-PL", ',', NBSP, Placement::After, &[("eur", "€"), ("pln", "zł")])
    },
    rules(
        "ja-JP",
        '.',
        ',',
        Placement::Before,
        &[
            ("usd", "$"),
            ("eur", "€"),
            ("gbp", "£"),
            ("cad", "CA$"),
            ("aud", "A$"),
            ("nzd", "NZ$"),
            ("jpy", "￥"),
        ],
    ),
];
