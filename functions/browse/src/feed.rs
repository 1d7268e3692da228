//! The Google Merchant Center product feed: RSS 2.0 with the `g:` namespace, one `<item>` per
//! variant, grouped by product. Every text goes through [`crate::xml::text`]: escaped, and without characters XML forbids.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, Event};
use shop_domain::{Product, Variant};
use shop_platform::config::StorefrontSettings;
use std::io;

const GOOGLE_NS: &str = "http://base.google.com/ns/1.0";
/// Longest title Merchant Center takes.
const TITLE_MAX_CHARS: usize = 150;

/// What the feed says of the store itself.
pub struct FeedStore<'a> {
    /// The store's name: the channel's title, and the brand of products that name none.
    pub name: &'a str,
    /// Where the storefront lives.
    pub storefront: &'a StorefrontSettings,
}

/// The feed of `products`.
pub fn merchant_feed(store: &FeedStore<'_>, products: &[Product]) -> io::Result<String> {
    let mut writer = Writer::new(Vec::new());
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    writer
        .create_element("rss")
        .with_attribute(("version", "2.0"))
        .with_attribute(("xmlns:g", GOOGLE_NS))
        .write_inner_content(|writer| {
            writer.create_element("channel").write_inner_content(|writer| {
                text(writer, "title", store.name)?;
                text(writer, "link", store.storefront.base())?;
                text(writer, "description", &format!("Products of {}", store.name))?;
                for product in products {
                    for variant in &product.variants {
                        item(writer, store, product, variant)?;
                    }
                }
                Ok(())
            })?;
            Ok(())
        })?;
    String::from_utf8(writer.into_inner()).map_err(io::Error::other)
}

/// One variant as an `<item>`.
fn item(writer: &mut Writer<Vec<u8>>, store: &FeedStore<'_>, product: &Product, variant: &Variant) -> io::Result<()> {
    writer.create_element("item").write_inner_content(|writer| {
        text(writer, "g:id", variant.sku.as_str())?;
        text(writer, "g:item_group_id", product.id.as_str())?;
        text(writer, "g:title", &variant_title(product, variant))?;
        // Merchant Center refuses an item without a description; the title is the least wrong one.
        let description = match product.description.trim() {
            "" => product.title.as_str(),
            description => description,
        };
        text(writer, "g:description", description)?;
        text(writer, "g:link", &store.storefront.product_url(&product.slug))?;
        if let Some(image) = product.images.first() {
            text(writer, "g:image_link", &store.storefront.image_url(image))?;
        }
        let availability = if variant.available > 0 {
            "in_stock"
        } else {
            "out_of_stock"
        };
        text(writer, "g:availability", availability)?;
        text(writer, "g:price", &variant.price.to_string())?;
        text(writer, "g:brand", brand(product).unwrap_or(store.name))?;
        text(writer, "g:condition", "new")?;
        for (option, value) in &variant.options {
            match option.to_ascii_lowercase().as_str() {
                "size" => text(writer, "g:size", value)?,
                "color" | "colour" => text(writer, "g:color", value)?,
                _ => {}
            }
        }
        Ok(())
    })?;
    Ok(())
}

/// The product's title with what sets the variant apart: `Merino Crew (Navy, M)`.
fn variant_title(product: &Product, variant: &Variant) -> String {
    let options: Vec<&str> = variant.options.values().map(String::as_str).collect();
    let title = if options.is_empty() {
        product.title.clone()
    } else {
        format!("{} ({})", product.title, options.join(", "))
    };
    title.chars().take(TITLE_MAX_CHARS).collect()
}

/// The brand the product names in its attributes, if any.
pub fn brand(product: &Product) -> Option<&str> {
    product
        .attributes
        .iter()
        .find(|(name, value)| name.eq_ignore_ascii_case("brand") && !value.trim().is_empty())
        .map(|(_, value)| value.as_str())
}

fn text(writer: &mut Writer<Vec<u8>>, name: &str, content: &str) -> io::Result<()> {
    writer
        .create_element(name)
        .write_text_content(crate::xml::text(content))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use shop_platform::config::Env;
    use std::collections::HashMap;

    fn storefront() -> StorefrontSettings {
        let env = Env::from_map(HashMap::from([(
            "STOREFRONT_URL".to_owned(),
            "https://shop.example".to_owned(),
        )]));
        StorefrontSettings::from_env(&env).unwrap()
    }

    fn mug() -> Product {
        let value = serde_json::json!({
            "id": "mug", "slug": "stoneware-mug", "title": "Stoneware <Mug> & Co", "category": "home",
            "images": ["https://img.example/mug.jpg?w=1&h=2"], "attributes": {"Brand": "Kiln & Clay"},
            "variants": [
                {"sku": "MUG-BLUE", "options": {"colour": "Blue"}, "price": {"amount": 1500, "currency": "usd"}, "available": 3},
                {"sku": "MUG-RED", "options": {"colour": "Red"}, "price": {"amount": 1650, "currency": "usd"}, "available": 0}
            ]
        });
        Product::from_json(value, shop_domain::Currency::parse("usd").unwrap()).unwrap()
    }

    #[test]
    fn each_variant_is_an_item_with_its_price_stock_and_escaped_texts() {
        let storefront = storefront();
        let store = FeedStore {
            name: "Shop",
            storefront: &storefront,
        };
        let xml = merchant_feed(&store, &[mug()]).unwrap();
        assert!(xml.contains(r#"<rss version="2.0" xmlns:g="http://base.google.com/ns/1.0">"#));
        assert_eq!(xml.matches("<item>").count(), 2);
        assert!(xml.contains("<g:title>Stoneware &lt;Mug&gt; &amp; Co (Blue)</g:title>"));
        assert!(xml.contains("<g:price>15.00 USD</g:price>"));
        assert!(xml.contains("<g:availability>out_of_stock</g:availability>"));
        assert!(xml.contains("<g:brand>Kiln &amp; Clay</g:brand>"));
        assert!(xml.contains("<g:image_link>https://img.example/mug.jpg?w=1&amp;h=2</g:image_link>"));
        assert!(xml.contains("<g:link>https://shop.example/products/stoneware-mug</g:link>"));
        assert!(xml.contains("<g:description>Stoneware &lt;Mug&gt; &amp; Co</g:description>"));
    }

    #[test]
    fn the_shops_own_image_is_linked_on_the_storefront() {
        let storefront = storefront();
        let store = FeedStore {
            name: "Shop",
            storefront: &storefront,
        };
        let mut mug = mug();
        mug.images = vec!["/images/stoneware-mug-1-640.webp".to_owned()];
        let xml = merchant_feed(&store, &[mug]).unwrap();
        assert!(xml.contains("<g:image_link>https://shop.example/images/stoneware-mug-1-640.webp</g:image_link>"));
    }
}
