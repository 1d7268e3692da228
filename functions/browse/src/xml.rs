//! Text as the XML writers emit it: escaped by the writer (`&`, `<`, `>`, quotes), and without
//! the characters XML 1.0 does not allow at all, escaped or not (most control characters,
//! U+FFFE and U+FFFF): one such character would make the whole document unreadable to its
//! reader, so each is written as U+FFFD instead.

use quick_xml::events::BytesText;
use std::borrow::Cow;

/// Whether XML 1.0 allows `c` in a document (its `Char` production).
fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// `content` as a text event: escaped, every character XML forbids replaced.
pub fn text(content: &str) -> BytesText<'static> {
    let content: Cow<'_, str> = if content.chars().all(allowed) {
        Cow::Borrowed(content)
    } else {
        Cow::Owned(
            content
                .chars()
                .map(|c| if allowed(c) { c } else { '\u{FFFD}' })
                .collect(),
        )
    };
    BytesText::new(&content).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_xml_forbids_are_replaced_and_the_rest_escaped() {
        let event = text("Tee\u{0}\u{1b}\u{FFFF} & <b>\"x\"</b>\t✓");
        let written = event.into_inner().into_owned();
        assert_eq!(
            written,
            "Tee\u{FFFD}\u{FFFD}\u{FFFD} &amp; &lt;b&gt;&quot;x&quot;&lt;/b&gt;\t✓"
        );
    }
}
