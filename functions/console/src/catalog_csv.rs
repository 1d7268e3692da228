//! The catalog as a CSV file, one row per variant, read for an import and written for an export
//! in the same format, so an exported file imports back unchanged.
//!
//! Columns (the header row names them; any order; `product_id`, `title`, `category`, `sku`,
//! `price` and `stock` are required, the others may be left out):
//! `product_id, slug, title, description, category, status, tags, images, attributes, sku,
//! options, price, stock`. Rows with the same `product_id` are one product's variants, in the
//! order given; the product's own columns are read from its first row, and a later row leaves
//! them empty or repeats them. Lists (`tags`, `images`) are separated by `|`; `attributes` and
//! `options` are `name=value` pairs separated by `|`. `price` is in the store's currency
//! (`25.00`), `stock` a whole number of units, `status` `active` (when empty), `draft` or
//! `archived`, `slug` the product id when empty.
//!
//! Reading here only turns text into the admin API's product JSON (a price into minor units, a
//! list into an array); whether a product is valid is the admin handler's to say, and its
//! refusals are placed back on the row and column they came from ([`ProductRows::locate`]).

use serde_json::{Map, Value, json};
use shop_domain::{Currency, Money, Product};
use std::collections::{BTreeMap, HashMap};

/// The columns, in the order an export writes them.
pub(crate) const COLUMNS: [&str; 13] = [
    "product_id",
    "slug",
    "title",
    "description",
    "category",
    "status",
    "tags",
    "images",
    "attributes",
    "sku",
    "options",
    "price",
    "stock",
];

/// The columns every file must have.
const REQUIRED: [&str; 6] = ["product_id", "title", "category", "sku", "price", "stock"];

/// The product's own columns, read from its first row.
const PRODUCT_COLUMNS: [&str; 9] = [
    "product_id",
    "slug",
    "title",
    "description",
    "category",
    "status",
    "tags",
    "images",
    "attributes",
];

/// Separates the items of a list and the pairs of a map.
const SEPARATOR: char = '|';

/// Something wrong in the file, where the merchant sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct CsvError {
    /// The line of the file (the header is line 1).
    pub line: u64,
    /// The column, or empty for the whole row.
    pub column: String,
    /// What is wrong.
    pub reason: String,
}

impl CsvError {
    fn new(line: u64, column: &str, reason: impl Into<String>) -> Self {
        Self {
            line,
            column: column.to_owned(),
            reason: reason.into(),
        }
    }
}

/// One product of the file: the JSON the admin API takes, and the lines its rows are on.
#[derive(Debug, Clone)]
pub(crate) struct ProductRows {
    /// The product, as `PUT /admin/products/{id}` and the import take it.
    pub product: Value,
    /// The line of each variant's row, in order; the first row holds the product's columns.
    pub lines: Vec<u64>,
    /// Whether every row of it was read without a mistake.
    pub readable: bool,
}

impl ProductRows {
    /// Where a refusal of the admin handler (`variants[1].price.amount`) is in the file.
    pub fn locate(&self, field: &str) -> (u64, String) {
        let first = self.lines.first().copied().unwrap_or(1);
        if let Some(rest) = field.strip_prefix("variants[") {
            let (index, tail) = rest.split_once(']').unwrap_or((rest, ""));
            let line = index
                .parse::<usize>()
                .ok()
                .and_then(|i| self.lines.get(i).copied())
                .unwrap_or(first);
            let tail = tail.trim_start_matches('.');
            let column = match tail.split(['.', '[']).next().unwrap_or("") {
                "options" => "options",
                "price" => "price",
                "available" => "stock",
                _ => "sku",
            };
            return (line, column.to_owned());
        }
        let column = match field.split(['.', '[']).next().unwrap_or("") {
            "id" => "product_id",
            "variants" => "sku",
            name if PRODUCT_COLUMNS.contains(&name) => name,
            _ => "",
        };
        (first, column.to_owned())
    }
}

/// What a file holds: its products, and every mistake found while reading it.
#[derive(Debug, Clone, Default)]
pub(crate) struct CatalogFile {
    /// The products, in the order they first appear.
    pub products: Vec<ProductRows>,
    /// Mistakes, by line.
    pub errors: Vec<CsvError>,
}

/// One row's cells by column name.
struct Row<'a> {
    line: u64,
    cells: HashMap<&'a str, &'a str>,
}

impl Row<'_> {
    fn get(&self, column: &str) -> &str {
        self.cells.get(column).map(|cell| cell.trim()).unwrap_or("")
    }
}

/// Reads a catalog file; prices are in `currency`.
pub(crate) fn read(bytes: &[u8], currency: Currency) -> CatalogFile {
    let mut file = CatalogFile::default();
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(bytes);
    let headers: Vec<String> = match reader.headers() {
        Ok(headers) => headers.iter().map(|h| h.trim().to_ascii_lowercase()).collect(),
        Err(error) => {
            file.errors
                .push(CsvError::new(1, "", format!("the header row cannot be read: {error}")));
            return file;
        }
    };
    if let Some(missing) = check_header(&headers) {
        file.errors.push(missing);
        return file;
    }
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut first_rows: Vec<BTreeMap<String, String>> = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                let line = error.position().map_or(0, csv::Position::line);
                file.errors
                    .push(CsvError::new(line, "", format!("this row cannot be read: {error}")));
                continue;
            }
        };
        let line = record.position().map_or(0, csv::Position::line);
        let row = Row {
            line,
            cells: headers.iter().map(String::as_str).zip(record.iter()).collect(),
        };
        if row.cells.values().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        let id = row.get("product_id").to_owned();
        if id.is_empty() {
            file.errors
                .push(CsvError::new(line, "product_id", "every row names its product"));
            continue;
        }
        let index = match by_id.get(&id) {
            Some(&index) => {
                let first = &first_rows[index];
                let first_line = file.products[index].lines[0];
                for column in PRODUCT_COLUMNS {
                    let cell = row.get(column);
                    if !cell.is_empty() && first.get(column).map(String::as_str) != Some(cell) {
                        file.errors.push(CsvError::new(
                            line,
                            column,
                            format!(
                                "differs from line {first_line}, where product {id} begins: leave it empty or repeat it"
                            ),
                        ));
                        file.products[index].readable = false;
                    }
                }
                index
            }
            None => {
                let (product, errors) = product_fields(&row);
                let readable = errors.is_empty();
                file.errors.extend(errors);
                first_rows.push(
                    PRODUCT_COLUMNS
                        .iter()
                        .map(|c| ((*c).to_owned(), row.get(c).to_owned()))
                        .collect(),
                );
                file.products.push(ProductRows {
                    product,
                    lines: Vec::new(),
                    readable,
                });
                by_id.insert(id, file.products.len() - 1);
                file.products.len() - 1
            }
        };
        let (variant, errors) = variant_fields(&row, currency);
        let product = &mut file.products[index];
        product.readable &= errors.is_empty();
        file.errors.extend(errors);
        product.lines.push(line);
        if let Some(variants) = product.product.get_mut("variants").and_then(Value::as_array_mut) {
            variants.push(variant);
        }
    }
    file.errors.sort_by_key(|error| error.line);
    file
}

/// A missing required column or an unknown one, named on line 1.
fn check_header(headers: &[String]) -> Option<CsvError> {
    if let Some(unknown) = headers.iter().find(|h| !COLUMNS.contains(&h.as_str())) {
        return Some(CsvError::new(
            1,
            unknown,
            format!("unknown column; the columns are {}", COLUMNS.join(", ")),
        ));
    }
    REQUIRED
        .iter()
        .find(|required| !headers.iter().any(|h| h == *required))
        .map(|missing| CsvError::new(1, missing, "this column is missing from the header row"))
}

/// The product's own fields from its first row, with the mistakes in them.
fn product_fields(row: &Row<'_>) -> (Value, Vec<CsvError>) {
    let mut errors = Vec::new();
    let id = row.get("product_id");
    let slug = match row.get("slug") {
        "" => id,
        slug => slug,
    };
    let status = match row.get("status") {
        "" => "active",
        status => status,
    };
    let attributes = pairs(row.get("attributes")).unwrap_or_else(|reason| {
        errors.push(CsvError::new(row.line, "attributes", reason));
        Map::new()
    });
    let product = json!({
        "id": id,
        "slug": slug,
        "title": row.get("title"),
        "description": row.cells.get("description").copied().unwrap_or("").trim(),
        "category": row.get("category"),
        "status": status,
        "tags": list(row.get("tags")),
        "images": list(row.get("images")),
        "attributes": attributes,
        "variants": [],
    });
    (product, errors)
}

/// A variant from its row, with the mistakes in it.
fn variant_fields(row: &Row<'_>, currency: Currency) -> (Value, Vec<CsvError>) {
    let mut errors = Vec::new();
    let options = pairs(row.get("options")).unwrap_or_else(|reason| {
        errors.push(CsvError::new(row.line, "options", reason));
        Map::new()
    });
    let price = match Money::parse_decimal(row.get("price"), currency) {
        Ok(price) => json!(price),
        Err(reason) => {
            errors.push(CsvError::new(row.line, "price", reason));
            Value::Null
        }
    };
    let stock = match row.get("stock").parse::<u32>() {
        Ok(stock) => json!(stock),
        Err(_) => {
            errors.push(CsvError::new(
                row.line,
                "stock",
                "must be a whole number of units (0 or more)",
            ));
            Value::Null
        }
    };
    let variant = json!({"sku": row.get("sku"), "options": options, "price": price, "available": stock});
    (variant, errors)
}

/// `a|b|c` as a list, empty items left out.
fn list(cell: &str) -> Vec<String> {
    cell.split(SEPARATOR)
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `name=value|name=value` as a map (a product's attributes, a variant's options).
pub(crate) fn pairs(cell: &str) -> Result<Map<String, Value>, String> {
    let mut map = Map::new();
    for pair in cell.split(SEPARATOR).map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("'{pair}' is not name=value (pairs are separated by {SEPARATOR})"))?;
        map.insert(name.trim().to_owned(), Value::String(value.trim().to_owned()));
    }
    Ok(map)
}

/// The products as a catalog file, one row per variant, the product's columns on every row.
pub(crate) fn write(products: &[Product]) -> Result<String, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(COLUMNS)?;
    let joined_pairs = |map: &BTreeMap<String, String>| {
        map.iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join(&SEPARATOR.to_string())
    };
    for product in products {
        let tags = product.tags.join(&SEPARATOR.to_string());
        let images = product.images.join(&SEPARATOR.to_string());
        let attributes = joined_pairs(&product.attributes);
        for variant in &product.variants {
            writer.write_record([
                product.id.as_str(),
                product.slug.as_str(),
                &product.title,
                &product.description,
                product.category.as_str(),
                product.status.as_str(),
                &tags,
                &images,
                &attributes,
                variant.sku.as_str(),
                &joined_pairs(&variant.options),
                &variant.price.decimal(),
                &variant.available.to_string(),
            ])?;
        }
    }
    let bytes = writer.into_inner().map_err(|error| error.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod properties;

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::parse("usd").unwrap()
    }

    const FILE: &str =
        "product_id,slug,title,description,category,status,tags,images,attributes,sku,options,price,stock
tee,tee,Tee,\"Soft,
warm\",apparel,,organic|summer,https://img.example/tee.jpg,material=cotton,TEE-S,size=S,25.00,3
tee,,,,,,,,,TEE-M,size=M,26.5,0
mug,,Mug,,kitchen,draft,,,,MUG-1,,9,12
";

    #[test]
    fn rows_of_one_product_become_its_variants_with_prices_in_minor_units() {
        let file = read(FILE.as_bytes(), usd());
        assert_eq!(file.errors, []);
        assert_eq!(file.products.len(), 2);
        let tee = &file.products[0];
        assert_eq!(
            tee.lines,
            [2, 4],
            "the description's line break moves the next row down"
        );
        assert_eq!(tee.product["description"], "Soft,\nwarm");
        assert_eq!(tee.product["tags"], json!(["organic", "summer"]));
        assert_eq!(tee.product["attributes"], json!({"material": "cotton"}));
        assert_eq!(
            tee.product["variants"][1]["price"],
            json!({"amount": 2650, "currency": "usd"})
        );
        assert_eq!(tee.product["variants"][1]["options"], json!({"size": "M"}));
        let mug = &file.products[1];
        assert_eq!(
            (mug.product["slug"].as_str(), mug.product["status"].as_str()),
            (Some("mug"), Some("draft"))
        );
        assert!(Product::from_json(tee.product.clone(), usd()).is_ok());
        assert!(Product::from_json(mug.product.clone(), usd()).is_ok());
    }

    #[test]
    fn an_exported_catalog_reads_back_as_the_same_products() {
        let file = read(FILE.as_bytes(), usd());
        let products: Vec<Product> = file
            .products
            .iter()
            .map(|rows| Product::from_json(rows.product.clone(), usd()).unwrap())
            .collect();
        let exported = write(&products).unwrap();
        let again: Vec<Product> = read(exported.as_bytes(), usd())
            .products
            .into_iter()
            .map(|rows| Product::from_json(rows.product, usd()).unwrap())
            .collect();
        assert_eq!(again, products);
    }

    #[test]
    fn mistakes_are_named_by_line_and_column() {
        let text = "product_id,title,category,sku,price,stock,options\n\
                    a,A,home,A-1,12.345,1,\n\
                    a,B,,A-2,1,many,size\n\
                    ,C,home,C-1,1,1,\n";
        let file = read(text.as_bytes(), usd());
        let found: Vec<(u64, &str)> = file.errors.iter().map(|e| (e.line, e.column.as_str())).collect();
        assert_eq!(
            found,
            [
                (2, "price"),
                (3, "title"),
                (3, "options"),
                (3, "stock"),
                (4, "product_id")
            ]
        );
        assert!(!file.products[0].readable);
    }

    #[test]
    fn a_header_without_a_required_column_or_with_an_unknown_one_is_refused() {
        let missing = read(b"product_id,title,category,sku,price\n", usd());
        assert_eq!(missing.errors[0].column, "stock");
        let unknown = read(b"product_id,title,category,sku,price,stock,colour\n", usd());
        assert_eq!(
            (unknown.errors[0].line, unknown.errors[0].column.as_str()),
            (1, "colour")
        );
    }

    /// Found by `properties::an_exported_catalog_reads_back_as_the_same_products`: the file trims
    /// its cells, so a title kept as `! ` read back as `!` (the shop now keeps it trimmed).
    #[test]
    fn a_title_typed_with_a_trailing_space_exports_and_reads_back_unchanged() {
        let product = Product::from_json(
            json!({"id": "0", "slug": "0", "title": "! ", "category": "home",
                   "variants": [{"sku": "a", "price": {"amount": 0, "currency": "usd"}, "available": 0}]}),
            usd(),
        )
        .unwrap();
        let exported = write(std::slice::from_ref(&product)).unwrap();
        let file = read(exported.as_bytes(), usd());
        assert_eq!(file.errors, []);
        assert_eq!(Product::from_json(file.products[0].product.clone(), usd()), Ok(product));
    }

    #[test]
    fn the_admin_handlers_refusals_land_on_their_row_and_column() {
        let file = read(FILE.as_bytes(), usd());
        let tee = &file.products[0];
        assert_eq!(tee.locate("variants[1].price.amount"), (4, "price".to_owned()));
        assert_eq!(tee.locate("variants[0].available"), (2, "stock".to_owned()));
        assert_eq!(tee.locate("variants[1].sku"), (4, "sku".to_owned()));
        assert_eq!(tee.locate("title"), (2, "title".to_owned()));
        assert_eq!(tee.locate("tags[1]"), (2, "tags".to_owned()));
        assert_eq!(tee.locate("id"), (2, "product_id".to_owned()));
        assert_eq!(tee.locate("product"), (2, String::new()));
    }
}
