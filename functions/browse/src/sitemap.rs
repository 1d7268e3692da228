//! The sitemap as sitemaps.org writes it: a `urlset` of the store's pages, or past one file a
//! `sitemapindex` of its numbered pages. Every text goes through [`crate::xml::text`]: escaped, and without characters XML forbids.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, Event};
use std::io;

const SITEMAP_NS: &str = "http://www.sitemaps.org/schemas/sitemap/0.9";

/// One address the sitemap lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SitemapUrl {
    /// The page's absolute URL.
    pub loc: String,
    /// When it last changed, as a W3C datetime (`2026-11-27T15:00:00Z`), if known.
    pub lastmod: Option<String>,
}

/// A `urlset` of `urls`.
pub fn urlset(urls: &[SitemapUrl]) -> io::Result<String> {
    document("urlset", |writer| {
        for url in urls {
            writer.create_element("url").write_inner_content(|writer| {
                writer
                    .create_element("loc")
                    .write_text_content(crate::xml::text(&url.loc))?;
                if let Some(lastmod) = &url.lastmod {
                    writer
                        .create_element("lastmod")
                        .write_text_content(crate::xml::text(lastmod))?;
                }
                Ok(())
            })?;
        }
        Ok(())
    })
}

/// A `sitemapindex` whose entries are the sitemap files at `locs`.
pub fn index(locs: &[String]) -> io::Result<String> {
    document("sitemapindex", |writer| {
        for loc in locs {
            writer.create_element("sitemap").write_inner_content(|writer| {
                writer.create_element("loc").write_text_content(crate::xml::text(loc))?;
                Ok(())
            })?;
        }
        Ok(())
    })
}

/// An XML document whose root element `root`, in the sitemap namespace, holds what `content` writes.
fn document(root: &str, content: impl FnOnce(&mut Writer<Vec<u8>>) -> io::Result<()>) -> io::Result<String> {
    let mut writer = Writer::new(Vec::new());
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    writer
        .create_element(root)
        .with_attribute(("xmlns", SITEMAP_NS))
        .write_inner_content(content)?;
    String::from_utf8(writer.into_inner()).map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_urlset_escapes_its_addresses_and_leaves_out_an_unknown_lastmod() {
        let xml = urlset(&[
            SitemapUrl {
                loc: "https://shop.example/products/a?x=1&y=<2>".to_owned(),
                lastmod: Some("2026-11-27T15:00:00Z".to_owned()),
            },
            SitemapUrl {
                loc: "https://shop.example/categories/b".to_owned(),
                lastmod: None,
            },
        ])
        .unwrap();
        assert!(xml.starts_with(
            r#"<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">"#
        ));
        assert!(xml.contains(
            "<loc>https://shop.example/products/a?x=1&amp;y=&lt;2&gt;</loc><lastmod>2026-11-27T15:00:00Z</lastmod>"
        ));
        assert!(xml.contains("<url><loc>https://shop.example/categories/b</loc></url>"));
    }

    #[test]
    fn an_index_lists_its_files() {
        let xml = index(&["https://shop.example/sitemap.xml?page=1&a".to_owned()]).unwrap();
        assert!(xml.contains("<sitemapindex xmlns="));
        assert!(xml.contains("<sitemap><loc>https://shop.example/sitemap.xml?page=1&amp;a</loc></sitemap>"));
    }
}
