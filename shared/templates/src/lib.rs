//! The shop's look, in one place: the layout every mail and page extends (the store's name at
//! the head, the content, a footer with the store's name), in HTML for mail clients and browsers
//! and in text with the same facts in the same order, and the partials they share (an address,
//! an item with its options).
//!
//! The templates are compiled into each binary that uses them, and each is parsed when an
//! instance first renders it (a cold start parses only what its first answer shows, not all of
//! them: `make bench`'s profile, bench/results.md); [`parse_all`] in each crate's tests keeps a
//! template that does not parse from shipping.
//! Templates named `*.html` are escaped by minijinja as they render (every value, whoever wrote
//! it); `*.txt` are not. No caller escapes by hand.
//!
//! A mail or page extends `layout.html` / `layout.txt` and fills its blocks:
//! - `title` (HTML only): the document's title, by default the store's name;
//! - `preview` (HTML only): the line mail clients show beside the subject;
//! - `heading`: one line, the `<h1>` of the HTML part and the first line of the text
//!   (`heading_row` holds it; a mail whose content brings its own, a campaign, empties that);
//! - `body`: the content;
//! - `footer`: what follows the store's name at the foot (the order's link, an unsubscribe link).
//!
//! Both read `store_name`. `parts.html` and `parts.txt` hold the macros `address(lines)` and
//! `item(line)` (a line with `quantity`, `title`, `variant`, `sku`).

use minijinja::Environment;
use minijinja::syntax::SyntaxConfig;

/// The shared templates: name and source.
const SHARED: [(&str, &str); 4] = [
    ("layout.html", include_str!("../templates/layout.html")),
    ("layout.txt", include_str!("../templates/layout.txt")),
    ("parts.html", include_str!("../templates/parts.html")),
    ("parts.txt", include_str!("../templates/parts.txt")),
];

/// A caller's templates: name and source.
pub type Sources = &'static [(&'static str, &'static str)];

/// An environment of the layout, the partials and the caller's `own` templates, set up as every
/// mail and page renders: HTML escaped by name, blocks that leave no stray lines in the text
/// parts. Each template is parsed when first rendered.
pub fn environment(own: &[Sources]) -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    let syntax = SyntaxConfig::builder().trim_blocks(true).lstrip_blocks(true).build()?;
    env.set_syntax(syntax);
    let sources: Vec<(&'static str, &'static str)> =
        SHARED.iter().chain(own.iter().copied().flatten()).copied().collect();
    env.set_loader(move |name| {
        Ok(sources
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, source)| *source))
    });
    env.add_filter("when", when);
    Ok(env)
}

/// Parses every template of [`environment`]`(own)`: the first that does not parse, as an
/// error naming it.
pub fn parse_all(own: &[Sources]) -> Result<(), minijinja::Error> {
    let env = environment(own)?;
    for (name, _) in SHARED.iter().chain(own.iter().copied().flatten()) {
        env.get_template(name)?;
    }
    Ok(())
}

/// `{{ at | when }}`: an instant as the shop writes it (`2026-12-01T17:19:08Z`) for people to
/// read, to the minute (`2026-12-01 17:19 UTC`); anything else as it is.
fn when(at: &str) -> String {
    let bytes = at.as_bytes();
    let shaped = at.len() == 20
        && at.ends_with('Z')
        && bytes[10] == b'T'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| matches!(i, 4 | 7 | 10 | 13 | 16 | 19) || b.is_ascii_digit());
    if shaped {
        format!("{} {} UTC", &at[..10], &at[11..16])
    } else {
        at.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    #[test]
    fn an_instant_is_written_to_the_minute_and_anything_else_as_it_is() {
        assert_eq!(when("2026-12-01T17:19:08Z"), "2026-12-01 17:19 UTC");
        for other in [
            "",
            "soon",
            "2026-12-01T17:19:08+01:00",
            "2026-12-01X17:19:08Z",
            "2026-1a-01T17:19:08Z",
        ] {
            assert_eq!(when(other), other);
        }
        let env = environment(&[]).unwrap();
        let shown = env
            .render_str("{{ at | when }}", context! { at => "2026-12-01T17:19:08Z" })
            .unwrap();
        assert_eq!(shown, "2026-12-01 17:19 UTC");
    }

    #[test]
    fn parse_all_names_the_template_that_does_not_parse() {
        const OWN: Sources = &[("fine.html", "{{ x }}"), ("broken.html", "{% if %}")];
        let error = parse_all(&[OWN]).unwrap_err();
        assert_eq!(error.name(), Some("broken.html"), "{error}");
        assert!(parse_all(&[&OWN[..1]]).is_ok());
        // Rendering parses only what the answer shows.
        let env = environment(&[OWN]).unwrap();
        assert_eq!(
            env.get_template("fine.html")
                .unwrap()
                .render(context! { x => 1 })
                .unwrap(),
            "1"
        );
    }

    fn render(env: &Environment<'_>, name: &str, source: &'static str, ctx: minijinja::Value) -> String {
        let mut env = env.clone();
        env.add_template_owned(name.to_owned(), source).unwrap();
        env.get_template(name).unwrap().render(ctx).unwrap()
    }

    const PAGE_HTML: &str = r#"{% extends "layout.html" %}{% import "parts.html" as parts %}
{% block heading %}Hello {{ who }}{% endblock %}
{% block body %}<p>{{ who }}</p>{{ parts.address(lines) }}{{ parts.item(line) }}{% endblock %}
{% block footer %}Order {{ who }}{% endblock %}"#;

    const PAGE_TXT: &str = r#"{% extends "layout.txt" %}{% import "parts.txt" as parts %}
{% block heading %}Hello {{ who }}{% endblock %}
{% block body %}
{{ who }}

{{ parts.address(lines) }}
{{ parts.item(line) }}
{% endblock %}
{% block footer %}Order {{ who }}{% endblock %}"#;

    fn facts() -> minijinja::Value {
        context! {
            store_name => "Mugs & <Co>",
            who => "<b>Ada</b>",
            lines => vec!["Ada <b>", "1 Main St"],
            line => context! { quantity => 2, title => "Mug <L>", variant => "Colour: Navy", sku => "MUG-1" },
        }
    }

    #[test]
    fn the_html_layout_escapes_every_value_and_carries_the_store_name_at_head_and_foot() {
        let html = render(&environment(&[]).unwrap(), "page.html", PAGE_HTML, facts());
        assert!(html.starts_with("<!doctype html>"), "{html}");
        assert_eq!(
            html.matches("Mugs &amp; &lt;Co&gt;").count(),
            3,
            "title, header, footer: {html}"
        );
        assert!(html.contains("&lt;b&gt;Ada&lt;&#x2f;b&gt;") && !html.contains("<b>Ada"));
        assert!(html.contains("Ada &lt;b&gt;<br>1 Main St"), "{html}");
        assert!(
            html.contains("2 × Mug &lt;L&gt;") && html.contains("Colour: Navy"),
            "{html}"
        );
        assert!(html.contains("class=\"shop-header"));
    }

    #[test]
    fn the_text_layout_keeps_what_was_typed_and_has_the_same_order_of_facts() {
        let text = render(&environment(&[]).unwrap(), "page.txt", PAGE_TXT, facts());
        let expected = "Mugs & <Co>\n\nHello <b>Ada</b>\n\n<b>Ada</b>\n\nAda <b>\n1 Main St\n2 x Mug <L>, Colour: Navy (MUG-1)\n\n-- \nMugs & <Co>\nOrder <b>Ada</b>";
        assert_eq!(text, expected);
    }
}
