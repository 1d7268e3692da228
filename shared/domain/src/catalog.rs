//! The catalog: products, their variants and the summary a listing shows.

use crate::FieldError;
use crate::money::{Currency, Money};
use crate::text::{is_multiline, is_one_line, is_slug, search_terms};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A text value accepted as given when `check` passes.
macro_rules! checked_string {
    ($(#[$doc:meta])* $name:ident, $check:expr, $what:literal) => {
        text_value!($(#[$doc])* $name);

        impl $name {
            /// Accepts `raw` when it has the form this value must have.
            pub fn parse(raw: &str) -> Result<Self, String> {
                let check: fn(&str) -> bool = $check;
                if check(raw) {
                    Ok(Self(raw.to_owned()))
                } else {
                    Err(format!("'{}' is not {}", raw.chars().take(80).collect::<String>(), $what))
                }
            }
        }
    };
}

fn is_product_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn is_sku(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

checked_string!(
    /// A product's id, chosen by the merchant: lower-case letters, digits, `-` and `_`, at most 64.
    ProductId,
    is_product_id,
    "a product id (lower-case letters, digits, '-' and '_', at most 64)"
);
checked_string!(
    /// A product's address in URLs: a lower-case kebab slug.
    Slug,
    is_slug,
    "a slug (lower-case words joined by single hyphens)"
);
checked_string!(
    /// A category's slug; its display name is derived from it.
    CategorySlug,
    is_slug,
    "a category slug (lower-case words joined by single hyphens)"
);
checked_string!(
    /// A stock-keeping unit: letters, digits, `-`, `_` and `.`, at most 64, case kept.
    Sku,
    is_sku,
    "a SKU (letters, digits, '-', '_' and '.', at most 64)"
);

impl CategorySlug {
    /// The name shown for the category: `home-office` reads `Home Office`.
    pub fn display_name(&self) -> String {
        self.0
            .split('-')
            .map(|word| {
                let mut chars = word.chars();
                chars
                    .next()
                    .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// One buyable version of a product (a size, a colour), with its own price and stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// The variant's stock-keeping unit, unique across the catalog.
    pub sku: Sku,
    /// What tells it apart from its siblings: `{"size": "M", "colour": "Navy"}`.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Its price per unit.
    pub price: Money,
    /// Units that can be sold now.
    pub available: u32,
}

/// A variant's options as a customer reads them beside its title: `Colour: Navy, Size: M`
/// (names capitalised, in the catalog's order of names); `None` when it has none.
pub fn options_label(options: &BTreeMap<String, String>) -> Option<String> {
    let label = options
        .iter()
        .filter(|(_, value)| !value.trim().is_empty())
        .map(|(name, value)| {
            let mut chars = name.trim().chars();
            let name: String = chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default();
            format!("{name}: {}", value.trim())
        })
        .collect::<Vec<_>>()
        .join(", ");
    (!label.is_empty()).then_some(label)
}

/// Whether shoppers see a product: only an `active` one is listed, shown and sold; a `draft`
/// is being prepared, an `archived` one is no longer sold (kept for the merchant's records).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductStatus {
    /// Listed, shown and sold.
    #[default]
    Active,
    /// Being prepared: the merchant sees it, shoppers do not.
    Draft,
    /// No longer sold: the merchant sees it, shoppers do not.
    Archived,
}

impl ProductStatus {
    /// Every status, in the order a merchant picks from them.
    pub const ALL: [Self; 3] = [Self::Active, Self::Draft, Self::Archived];

    /// Whether shoppers may see and buy the product.
    pub fn is_sold(self) -> bool {
        self == Self::Active
    }

    /// The status as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Draft => "draft",
            Self::Archived => "archived",
        }
    }
}

/// A product as the merchant writes it and the shopper reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// The merchant's id for it.
    pub id: ProductId,
    /// Its address in URLs, unique across the catalog.
    pub slug: Slug,
    /// Its name.
    pub title: String,
    /// The copy shown on its page.
    #[serde(default)]
    pub description: String,
    /// The category it is listed in.
    pub category: CategorySlug,
    /// Free words a shopper can search by.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Image URLs, the first one being the main picture.
    #[serde(default)]
    pub images: Vec<String>,
    /// Facts such as material or brand.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// The buyable versions of it.
    pub variants: Vec<Variant>,
    /// Whether shoppers see it (`active` when not given).
    #[serde(default)]
    pub status: ProductStatus,
}

/// Why a name or value of an attribute or option is refused for the characters the catalog
/// file writes pairs with.
const PAIR: &str = "a name holds no '=' or '|', a value no '|' (the catalog file writes name=value|name=value)";

/// Whether `name` and `value` can be written as a pair of the catalog file and read back.
fn is_pair(name: &str, value: &str) -> bool {
    !name.contains(['=', '|']) && !value.contains('|')
}

/// `pairs` with names and values trimmed; a name that meets another once trimmed is refused
/// under `field`.
fn trimmed_pairs(
    pairs: BTreeMap<String, String>,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> BTreeMap<String, String> {
    let mut kept = BTreeMap::new();
    for (name, value) in pairs {
        let name = name.trim().to_owned();
        if kept.contains_key(&name) {
            errors.push(FieldError::new(
                format!("{field}.{}", name.escape_default()),
                "appears twice once surrounding spaces are left out",
            ));
        }
        kept.insert(name, value.trim().to_owned());
    }
    kept
}

/// A product as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductSummary {
    /// The product's id.
    pub id: ProductId,
    /// The product's slug.
    pub slug: Slug,
    /// The product's title.
    pub title: String,
    /// The category it is listed in.
    pub category: CategorySlug,
    /// The lowest price of its variants.
    pub price_from: Money,
    /// Whether any variant can be bought now.
    pub in_stock: bool,
    /// Its main picture, if it has one.
    pub image: Option<String>,
    /// Its tags.
    pub tags: Vec<String>,
}

/// A product as the merchant's catalog list shows it, whatever its status: how many variants,
/// the range of their prices and the stock, with a mark when some variant runs low.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductOverview {
    /// The product's id.
    pub id: ProductId,
    /// The product's slug.
    pub slug: Slug,
    /// The product's title.
    pub title: String,
    /// The category it is listed in.
    pub category: CategorySlug,
    /// Whether shoppers see it.
    pub status: ProductStatus,
    /// How many variants it has.
    pub variants: u32,
    /// The lowest price of its variants.
    pub price_from: Money,
    /// The highest price of its variants.
    pub price_to: Money,
    /// Units in stock over all variants.
    pub available: u64,
    /// Whether some variant has fewer than [`LOW_STOCK_UNITS`] units (sold out included).
    pub low_stock: bool,
}

/// A variant with fewer units than this is marked as running low in the merchant's lists.
pub const LOW_STOCK_UNITS: u32 = 5;

/// A category as the category list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    /// Its slug, as products name it.
    pub slug: CategorySlug,
    /// Its display name.
    pub name: String,
    /// How many products are listed in it.
    pub product_count: u32,
}

/// Bounds a product must stay within.
pub mod limits {
    /// Longest title.
    pub const TITLE: usize = 200;
    /// Longest description.
    pub const DESCRIPTION: usize = 5_000;
    /// Most tags.
    pub const TAGS: usize = 20;
    /// Most images.
    pub const IMAGES: usize = 10;
    /// Most attributes.
    pub const ATTRIBUTES: usize = 30;
    /// Most variants.
    pub const VARIANTS: usize = 50;
    /// Most units of stock a variant records.
    pub const AVAILABLE: u32 = 1_000_000;
    /// Highest unit price in minor units.
    pub const PRICE: i64 = 100_000_000;
}

impl Product {
    /// Reads a product from JSON, naming the field of the first shape error
    /// (`variants[0].price.amount`), then checks the rules [`Product::check`] states.
    pub fn from_json(value: serde_json::Value, currency: Currency) -> Result<Self, Vec<FieldError>> {
        let product: Product = serde_path_to_error::deserialize(value).map_err(|err| {
            let field = err.path().to_string();
            let refusal = FieldError::from_serde(&field, &err.into_inner().to_string());
            let field = if refusal.field == "body" {
                "product".to_owned()
            } else {
                refusal.field
            };
            vec![FieldError::new(field, refusal.reason)]
        })?;
        let (product, mut errors) = product.trimmed();
        errors.extend(product.check(currency));
        if errors.is_empty() { Ok(product) } else { Err(errors) }
    }

    /// The product as the shop keeps it: its text without surrounding blanks, as the catalog
    /// file (which trims its cells) reads it back. A name told apart from another only by
    /// blanks is refused.
    fn trimmed(self) -> (Self, Vec<FieldError>) {
        let mut errors = Vec::new();
        let attributes = trimmed_pairs(self.attributes, "attributes", &mut errors);
        let variants = self
            .variants
            .into_iter()
            .enumerate()
            .map(|(i, variant)| Variant {
                options: trimmed_pairs(variant.options, &format!("variants[{i}].options"), &mut errors),
                ..variant
            })
            .collect();
        let product = Self {
            title: self.title.trim().to_owned(),
            description: self.description.trim().to_owned(),
            attributes,
            variants,
            ..self
        };
        (product, errors)
    }

    /// The rules a product must follow that its shape alone does not tell: lengths, at least
    /// one variant, unique SKUs, prices in the store's currency.
    pub fn check(&self, currency: Currency) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut fail = |field: String, reason: String| errors.push(FieldError::new(field, reason));
        // Product text reaches pages, mails and XML feeds: one line where it is a line, no
        // control character anywhere.
        const ONE_LINE: &str = "must be one line of text, without control characters";
        let title = self.title.trim();
        if title.is_empty() || title.chars().count() > limits::TITLE {
            fail("title".into(), format!("must have 1 to {} characters", limits::TITLE));
        } else if !is_one_line(&self.title) {
            fail("title".into(), ONE_LINE.into());
        }
        if self.description.chars().count() > limits::DESCRIPTION {
            fail(
                "description".into(),
                format!("must have at most {} characters", limits::DESCRIPTION),
            );
        } else if !is_multiline(&self.description) {
            fail(
                "description".into(),
                "text only: line breaks and tabs are the only control characters allowed".into(),
            );
        }
        if self.tags.len() > limits::TAGS {
            fail("tags".into(), format!("at most {} tags", limits::TAGS));
        }
        for (i, tag) in self.tags.iter().enumerate() {
            if !is_slug(tag) || tag.len() > 40 {
                fail(
                    format!("tags[{i}]"),
                    "a tag is lower-case words joined by hyphens, at most 40".into(),
                );
            }
        }
        if self.images.len() > limits::IMAGES {
            fail("images".into(), format!("at most {} images", limits::IMAGES));
        }
        for (i, url) in self.images.iter().enumerate() {
            // An image hosted elsewhere, or one of the shop's own on the storefront
            // (`/images/<file>`, made absolute where an outside reader needs it).
            let scheme_ok = url.starts_with("https://")
                || url.starts_with("http://")
                || (url.starts_with('/') && !url.starts_with("//"));
            // `|` is no URL character unescaped (RFC 3986), and the catalog file lists with it.
            let unsafe_char = |c: char| c.is_whitespace() || c.is_control() || c == '|';
            if !scheme_ok || url.len() > 2048 || url.chars().any(unsafe_char) {
                fail(
                    format!("images[{i}]"),
                    "must be an http(s) URL or a path on the storefront (/images/...), without spaces or |".into(),
                );
            }
        }
        if self.attributes.len() > limits::ATTRIBUTES {
            fail(
                "attributes".into(),
                format!("at most {} attributes", limits::ATTRIBUTES),
            );
        }
        for (name, value) in &self.attributes {
            if name.trim().is_empty() || name.len() > 60 || value.len() > 500 {
                fail(
                    format!("attributes.{name}"),
                    "names are 1 to 60 characters, values at most 500".into(),
                );
            } else if !is_one_line(name) || !is_one_line(value) {
                fail(format!("attributes.{}", name.escape_default()), ONE_LINE.into());
            } else if !is_pair(name, value) {
                fail(format!("attributes.{}", name.escape_default()), PAIR.into());
            }
        }
        if self.variants.is_empty() || self.variants.len() > limits::VARIANTS {
            fail(
                "variants".into(),
                format!("a product has 1 to {} variants", limits::VARIANTS),
            );
        }
        let mut skus = BTreeSet::new();
        for (i, variant) in self.variants.iter().enumerate() {
            if !skus.insert(&variant.sku) {
                fail(
                    format!("variants[{i}].sku"),
                    format!("SKU {} appears twice", variant.sku),
                );
            }
            for (option, value) in &variant.options {
                if option.trim().is_empty() || option.chars().count() > 60 || value.chars().count() > 100 {
                    fail(
                        format!("variants[{i}].options.{}", option.escape_default()),
                        "option names are 1 to 60 characters, values at most 100".into(),
                    );
                } else if !is_one_line(option) || !is_one_line(value) {
                    fail(
                        format!("variants[{i}].options.{}", option.escape_default()),
                        ONE_LINE.into(),
                    );
                } else if !is_pair(option, value) {
                    fail(
                        format!("variants[{i}].options.{}", option.escape_default()),
                        PAIR.into(),
                    );
                }
            }
            if variant.price.currency != currency {
                fail(
                    format!("variants[{i}].price.currency"),
                    format!("the store sells in {currency}"),
                );
            }
            if !(0..=limits::PRICE).contains(&variant.price.amount) {
                fail(
                    format!("variants[{i}].price.amount"),
                    format!("must be 0 to {} minor units", limits::PRICE),
                );
            }
            if variant.available > limits::AVAILABLE {
                fail(
                    format!("variants[{i}].available"),
                    format!("must be at most {}", limits::AVAILABLE),
                );
            }
        }
        errors
    }

    /// What a listing shows of it. `None` only for a product without variants, which
    /// [`Product::check`] refuses.
    pub fn summary(&self) -> Option<ProductSummary> {
        let cheapest = self.variants.iter().min_by_key(|v| v.price.amount)?;
        Some(ProductSummary {
            id: self.id.clone(),
            slug: self.slug.clone(),
            title: self.title.clone(),
            category: self.category.clone(),
            price_from: cheapest.price,
            in_stock: self.variants.iter().any(|v| v.available > 0),
            image: self.images.first().cloned(),
            tags: self.tags.clone(),
        })
    }

    /// What the merchant's catalog list shows of it. `None` only for a product without
    /// variants, which [`Product::check`] refuses.
    pub fn overview(&self) -> Option<ProductOverview> {
        let cheapest = self.variants.iter().min_by_key(|v| v.price.amount)?;
        let dearest = self.variants.iter().max_by_key(|v| v.price.amount)?;
        Some(ProductOverview {
            id: self.id.clone(),
            slug: self.slug.clone(),
            title: self.title.clone(),
            category: self.category.clone(),
            status: self.status,
            variants: u32::try_from(self.variants.len()).unwrap_or(u32::MAX),
            price_from: cheapest.price,
            price_to: dearest.price,
            available: self.variants.iter().map(|v| u64::from(v.available)).sum(),
            low_stock: self.variants.iter().any(|v| v.available < LOW_STOCK_UNITS),
        })
    }

    /// The terms a search finds it by: the words of its title and of its tags.
    pub fn search_terms(&self) -> BTreeSet<String> {
        let mut terms = search_terms(&self.title);
        for tag in &self.tags {
            terms.extend(search_terms(tag));
        }
        terms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn usd() -> Currency {
        Currency::parse("usd").unwrap()
    }

    fn tee() -> serde_json::Value {
        json!({
            "id": "organic-tee", "slug": "organic-tee", "title": "Organic Cotton Tee",
            "description": "Soft.", "category": "apparel", "tags": ["organic", "summer-basics"],
            "images": ["https://img.example/tee.jpg"], "attributes": {"material": "cotton"},
            "variants": [
                {"sku": "TEE-S", "options": {"size": "S"}, "price": {"amount": 2500, "currency": "usd"}, "available": 0},
                {"sku": "TEE-M", "options": {"size": "M"}, "price": {"amount": 2200, "currency": "usd"}, "available": 3}
            ]
        })
    }

    #[test]
    fn options_read_as_names_and_values_beside_a_title() {
        let options: BTreeMap<String, String> = [
            ("size".to_owned(), "M".to_owned()),
            ("colour".to_owned(), "Navy".to_owned()),
        ]
        .into();
        assert_eq!(options_label(&options).as_deref(), Some("Colour: Navy, Size: M"));
        assert_eq!(options_label(&BTreeMap::new()), None);
    }

    #[test]
    fn a_valid_product_is_read_and_summarised() {
        let product = Product::from_json(tee(), usd()).unwrap();
        let summary = product.summary().unwrap();
        assert_eq!(summary.price_from.amount, 2200);
        assert!(summary.in_stock);
        assert_eq!(summary.image.as_deref(), Some("https://img.example/tee.jpg"));
    }

    #[test]
    fn a_product_is_active_unless_the_merchant_says_otherwise() {
        assert!(Product::from_json(tee(), usd()).unwrap().status.is_sold());
        let mut value = tee();
        value["status"] = json!("archived");
        let product = Product::from_json(value, usd()).unwrap();
        assert_eq!(product.status, ProductStatus::Archived);
        assert!(!product.status.is_sold());
        let mut value = tee();
        value["status"] = json!("gone");
        assert_eq!(Product::from_json(value, usd()).unwrap_err()[0].field, "status");
    }

    #[test]
    fn the_overview_gives_the_price_range_the_stock_and_a_low_stock_mark() {
        let overview = Product::from_json(tee(), usd()).unwrap().overview().unwrap();
        assert_eq!((overview.price_from.amount, overview.price_to.amount), (2200, 2500));
        assert_eq!((overview.variants, overview.available), (2, 3));
        assert!(overview.low_stock);
        let mut value = tee();
        value["variants"][0]["available"] = json!(LOW_STOCK_UNITS);
        value["variants"][1]["available"] = json!(LOW_STOCK_UNITS + 1);
        assert!(!Product::from_json(value, usd()).unwrap().overview().unwrap().low_stock);
    }

    #[test]
    fn a_product_whose_variants_are_all_sold_out_is_not_in_stock() {
        let mut value = tee();
        value["variants"][1]["available"] = json!(0);
        let product = Product::from_json(value, usd()).unwrap();
        assert!(!product.summary().unwrap().in_stock);
    }

    #[test]
    fn a_wrong_type_is_reported_with_its_field_path() {
        let mut value = tee();
        value["variants"][1]["price"]["amount"] = json!("cheap");
        let errors = Product::from_json(value, usd()).unwrap_err();
        assert_eq!(errors[0].field, "variants[1].price.amount");
    }

    /// The fields `from_json` refuses in `value`, in order.
    fn refused_fields(value: serde_json::Value) -> Vec<String> {
        Product::from_json(value, usd())
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn rules_beyond_the_shape_are_each_reported() {
        let mut value = tee();
        value["title"] = json!("  ");
        value["variants"][1]["sku"] = json!("TEE-S");
        value["variants"][0]["price"]["currency"] = json!("eur");
        value["variants"][0]["price"]["amount"] = json!(-1);
        let fields = refused_fields(value);
        assert_eq!(
            fields,
            [
                "title",
                "variants[0].price.currency",
                "variants[0].price.amount",
                "variants[1].sku"
            ]
        );
    }

    #[test]
    fn control_characters_in_product_text_are_refused_by_field() {
        let mut value = tee();
        value["title"] = json!("Tee\u{0}");
        value["description"] = json!("Soft.\n\u{1b}[31mred");
        value["attributes"] = json!({"brand": "Acme\u{2028}Corp"});
        value["variants"][0]["options"] = json!({"size": "M\u{7}"});
        let fields = refused_fields(value);
        assert_eq!(
            fields,
            ["title", "description", "attributes.brand", "variants[0].options.size"]
        );
        let mut fine = tee();
        fine["description"] = json!("Soft.\n\tWarm & <light> \"tee\" – 100 % ✓");
        assert!(Product::from_json(fine, usd()).is_ok());
    }

    #[test]
    fn a_products_text_is_kept_trimmed_and_the_catalog_files_separators_are_refused_in_pairs() {
        let mut value = tee();
        value["title"] = json!(" Tee ");
        value["description"] = json!("Soft.\n");
        value["attributes"] = json!({" brand ": " Acme "});
        let product = Product::from_json(value, usd()).unwrap();
        assert_eq!((product.title.as_str(), product.description.as_str()), ("Tee", "Soft."));
        assert_eq!(
            product.attributes,
            BTreeMap::from([("brand".to_owned(), "Acme".to_owned())])
        );
        let mut value = tee();
        value["attributes"] = json!({"brand": "Acme|Corp", "a=b": "c", "fit": "slim", "fit ": "loose"});
        value["variants"][0]["options"] = json!({"size": "M|L"});
        value["images"] = json!(["https://img.example/a|b.jpg"]);
        assert_eq!(
            refused_fields(value),
            [
                "attributes.fit",
                "images[0]",
                "attributes.a=b",
                "attributes.brand",
                "variants[0].options.size"
            ]
        );
    }

    #[test]
    fn unknown_fields_and_bad_ids_are_refused() {
        let mut value = tee();
        value["colour"] = json!("red");
        assert!(Product::from_json(value, usd()).is_err());
        let mut value = tee();
        value["id"] = json!("Has Spaces");
        assert_eq!(Product::from_json(value, usd()).unwrap_err()[0].field, "id");
    }

    #[test]
    fn search_terms_come_from_title_and_tags() {
        let product = Product::from_json(tee(), usd()).unwrap();
        let terms = product.search_terms();
        for term in ["organic", "cotton", "tee", "summer", "basic"] {
            assert!(terms.contains(term), "{term} is missing from {terms:?}");
        }
    }

    #[test]
    fn a_category_name_is_its_slug_in_title_case() {
        assert_eq!(
            CategorySlug::parse("home-office").unwrap().display_name(),
            "Home Office"
        );
    }
}
