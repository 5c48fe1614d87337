//! Lesson Markdown to safe HTML: CommonMark with tables, then sanitised (ammonia), so that
//! scripts, event handlers, `javascript:` links and raw HTML tricks never reach a page.
use pulldown_cmark::{html, Options, Parser};

/// Renders Markdown and sanitises the result.
pub fn to_safe_html(markdown: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut raw = String::with_capacity(markdown.len() * 2);
    html::push_html(&mut raw, Parser::new_ext(markdown, options));
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer nofollow"))
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .clean(&raw)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_markdown_with_tables() {
        let html = to_safe_html("## Steps\n\n1. Score **R**\n\n| a | b |\n|---|---|\n| 1 | 2 |\n");
        assert!(html.contains("<h2>Steps</h2>"));
        assert!(html.contains("<strong>R</strong>"));
        assert!(html.contains("<table>"));
    }

    #[test]
    fn strips_scripts_handlers_and_javascript_links() {
        for attack in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[click](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<iframe src=\"https://evil.example\"></iframe>",
            "<svg onload=alert(1)>",
            "<div style=\"background:url(javascript:alert(1))\">x</div>",
            "[x](JaVaScRiPt:alert(1))",
            "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
        ] {
            let html = to_safe_html(attack).to_lowercase();
            assert!(!html.contains("<script"), "{attack} -> {html}");
            assert!(
                !html.contains("onerror") && !html.contains("onload"),
                "{attack} -> {html}"
            );
            assert!(!html.contains("javascript:"), "{attack} -> {html}");
            assert!(!html.contains("<iframe"), "{attack} -> {html}");
            assert!(!html.contains("data:text"), "{attack} -> {html}");
        }
    }
}
