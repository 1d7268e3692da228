//! What search engines and shopping feeds read of the catalog: how the sitemap splits the
//! store's pages into files of at most [`SITEMAP_MAX_URLS`] addresses.
//!
//! The sitemap lists the category pages first, then the product pages in catalog order; past
//! one file it becomes an index whose entries are the numbered pages (1, 2, …) of that one list.

use std::ops::Range;

/// Most addresses one sitemap file may list (sitemaps.org).
pub const SITEMAP_MAX_URLS: usize = 50_000;

/// How the store's pages are laid out over sitemap files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SitemapLayout {
    categories: usize,
    products: usize,
    page_size: usize,
}

/// The pages one sitemap file lists: positions in the category list and in the catalog listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SitemapPage {
    /// Positions of the categories it lists.
    pub categories: Range<usize>,
    /// Positions of the products it lists, in catalog order.
    pub products: Range<usize>,
}

impl SitemapLayout {
    /// The layout for a store with this many categories and products, in files of at most
    /// [`SITEMAP_MAX_URLS`] addresses.
    pub fn new(categories: usize, products: usize) -> Self {
        Self::with_page_size(categories, products, SITEMAP_MAX_URLS)
    }

    /// The layout with files of at most `page_size` addresses (at least 1).
    pub fn with_page_size(categories: usize, products: usize, page_size: usize) -> Self {
        Self {
            categories,
            products,
            page_size: page_size.max(1),
        }
    }

    /// How many addresses the sitemap lists in all.
    pub fn urls(&self) -> usize {
        self.categories + self.products
    }

    /// How many files the addresses fill; an empty store still has its one (empty) file.
    pub fn pages(&self) -> usize {
        self.urls().div_ceil(self.page_size).max(1)
    }

    /// Whether `/sitemap.xml` answers an index of pages rather than the addresses themselves.
    pub fn is_index(&self) -> bool {
        self.pages() > 1
    }

    /// What page `number` (from 1) lists; `None` past the last page.
    pub fn page(&self, number: usize) -> Option<SitemapPage> {
        if number == 0 || number > self.pages() {
            return None;
        }
        let start = (number - 1) * self.page_size;
        let end = (start + self.page_size).min(self.urls());
        let clamp = |position: usize, len: usize| position.min(len);
        Some(SitemapPage {
            categories: clamp(start, self.categories)..clamp(end, self.categories),
            products: start.saturating_sub(self.categories)..end.saturating_sub(self.categories),
        })
    }
}

impl SitemapPage {
    /// How many addresses the page lists.
    pub fn len(&self) -> usize {
        self.categories.len() + self.products.len()
    }

    /// Whether the page lists nothing (only the page of an empty store).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_within_one_file_answers_every_page_in_one_urlset() {
        let layout = SitemapLayout::with_page_size(2, 3, 5);
        assert!(!layout.is_index());
        assert_eq!(
            layout.page(1),
            Some(SitemapPage {
                categories: 0..2,
                products: 0..3
            })
        );
        assert_eq!(layout.page(2), None);
        assert_eq!(layout.page(0), None);
    }

    #[test]
    fn past_one_file_the_pages_split_categories_then_products_and_cover_each_once() {
        let layout = SitemapLayout::with_page_size(3, 8, 4);
        assert!(layout.is_index());
        assert_eq!(layout.pages(), 3);
        let pages: Vec<SitemapPage> = (1..=3).filter_map(|n| layout.page(n)).collect();
        assert_eq!(
            pages,
            [
                SitemapPage {
                    categories: 0..3,
                    products: 0..1
                },
                SitemapPage {
                    categories: 3..3,
                    products: 1..5
                },
                SitemapPage {
                    categories: 3..3,
                    products: 5..8
                },
            ]
        );
        assert!(pages.iter().all(|page| page.len() <= 4));
        assert_eq!(pages.iter().map(SitemapPage::len).sum::<usize>(), layout.urls());
        assert_eq!(layout.page(4), None);
    }

    #[test]
    fn exactly_a_full_file_is_not_yet_an_index() {
        assert!(!SitemapLayout::new(10, SITEMAP_MAX_URLS - 10).is_index());
        let layout = SitemapLayout::new(10, SITEMAP_MAX_URLS - 9);
        assert_eq!((layout.is_index(), layout.pages()), (true, 2));
        assert_eq!(layout.page(2).map(|page| page.len()), Some(1));
    }

    #[test]
    fn an_empty_store_has_one_empty_page() {
        let layout = SitemapLayout::new(0, 0);
        assert_eq!(layout.pages(), 1);
        assert!(layout.page(1).is_some_and(|page| page.is_empty()));
    }
}
