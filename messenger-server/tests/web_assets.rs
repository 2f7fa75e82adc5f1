//! The web inbox's files: every page file is embedded and served with its content type and the
//! content security policy; the page holds to that policy (no inline script or style, no
//! inline event handler, every script and stylesheet from this origin and embedded); the
//! script never writes to the console (message content must not reach a log) and never parses
//! HTML from strings. The page's behaviour is tested in a browser by `e2e/inbox.e2e.mjs`.

mod common;

use std::time::Duration;

use common::*;
use messenger_server::assets::{CSP, asset, asset_paths};

/// The attributes of one tag's text (`script type="module" src="/app.js"`), names lowercased.
fn attributes(tag: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let chars: Vec<char> = tag.chars().collect();
    // Skip the tag name.
    let mut i = chars
        .iter()
        .position(|c| c.is_whitespace())
        .unwrap_or(chars.len());
    while i < chars.len() {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == '/') {
            i += 1;
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '=' && chars[i] != '/' {
            i += 1;
        }
        if start == i {
            i += 1;
            continue;
        }
        let name: String = chars[start..i].iter().collect::<String>().to_lowercase();
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i < chars.len() && chars[i] == '=' {
            i += 1;
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
            let value = if i < chars.len() && (chars[i] == '"' || chars[i] == '\'') {
                let quote = chars[i];
                i += 1;
                let s = i;
                while i < chars.len() && chars[i] != quote {
                    i += 1;
                }
                let v: String = chars[s..i.min(chars.len())].iter().collect();
                i += 1;
                v
            } else {
                let s = i;
                while i < chars.len() && !chars[i].is_whitespace() {
                    i += 1;
                }
                chars[s..i].iter().collect()
            };
            out.push((name, Some(value)));
        } else {
            out.push((name, None));
        }
    }
    out
}

/// Every tag of an HTML document: (name lowercased, the tag's text, the text right after it).
fn tags(html: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else { break };
        let text = after[..close].trim().to_owned();
        let following = &after[close + 1..];
        if !text.starts_with('!') && !text.starts_with('/') {
            let name = text
                .split(|c: char| c.is_whitespace() || c == '/')
                .next()
                .unwrap_or("")
                .to_lowercase();
            let next_tag = following.find('<').unwrap_or(following.len());
            out.push((name, text, following[..next_tag].to_owned()));
        }
        rest = following;
    }
    out
}

fn text_of(path: &str) -> String {
    let (_, bytes) = asset(path).unwrap_or_else(|| panic!("{path} is embedded"));
    String::from_utf8(bytes.to_vec()).unwrap_or_else(|_| panic!("{path} is UTF-8"))
}

#[test]
fn the_checks_see_inline_code() {
    let sample = "<p title='one two'>x</p><button type=button onclick=\"go()\">Go</button>\
                  <script>alert(1)</script><div style=\"color:red\"></div>";
    let all = tags(sample);
    let names: Vec<&str> = all.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names, ["p", "button", "script", "div"]);
    assert_eq!(
        attributes(&all[0].1),
        [("title".to_owned(), Some("one two".to_owned()))]
    );
    assert!(attributes(&all[1].1).iter().any(|(a, _)| a == "onclick"));
    assert_eq!(all[2].2, "alert(1)");
    assert!(attributes(&all[3].1).iter().any(|(a, _)| a == "style"));
}

#[test]
fn the_page_files_are_embedded_with_their_content_types() {
    let paths: Vec<&str> = asset_paths().collect();
    for (path, content_type) in [
        ("/index.html", "text/html; charset=utf-8"),
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/app.css", "text/css; charset=utf-8"),
        ("/icon.svg", "image/svg+xml"),
    ] {
        assert!(paths.contains(&path), "{path} is embedded: {paths:?}");
        let (ct, bytes) = asset(path).unwrap();
        assert_eq!(ct, content_type, "{path}");
        assert!(!bytes.is_empty(), "{path} is not empty");
    }
    assert_eq!(asset("/"), asset("/index.html"), "/ is the page");
    assert!(
        asset("/e2e/inbox.e2e.mjs").is_none(),
        "the test is not served"
    );
    // Small and dependency-free: the whole page stays well under 100 KB.
    let total: usize = paths.iter().map(|p| asset(p).unwrap().1.len()).sum();
    assert!(total < 100_000, "the page's files take {total} bytes");
}

#[test]
fn the_page_holds_to_its_content_security_policy() {
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(CSP.contains(directive), "the policy has {directive}: {CSP}");
    }
    assert!(!CSP.contains("unsafe-inline") && !CSP.contains("unsafe-eval"));

    let html = text_of("/index.html");
    let all = tags(&html);
    let mut scripts = 0;
    let mut stylesheets = 0;
    for (name, text, following) in &all {
        let attrs = attributes(text);
        for (attr, value) in &attrs {
            assert!(!attr.starts_with("on"), "no inline event handler: <{text}>");
            assert!(attr != "style", "no inline style: <{text}>");
            if let Some(v) = value {
                assert!(
                    !v.trim_start().to_lowercase().starts_with("javascript:"),
                    "no javascript: URL: <{text}>"
                );
            }
        }
        let get = |n: &str| {
            attrs
                .iter()
                .find(|(a, _)| a == n)
                .and_then(|(_, v)| v.clone())
        };
        match name.as_str() {
            "script" => {
                scripts += 1;
                let src = get("src").unwrap_or_else(|| panic!("a script has a src: <{text}>"));
                assert!(
                    src.starts_with('/') && !src.starts_with("//"),
                    "a script from this origin: {src}"
                );
                assert!(asset(&src).is_some(), "{src} is embedded");
                assert!(
                    following.trim().is_empty(),
                    "no inline script in <{text}>: {following:?}"
                );
            }
            "style" => panic!("no <style> element: styles come from /app.css"),
            "link" => {
                let href = get("href").unwrap_or_default();
                if get("rel").as_deref() == Some("stylesheet") {
                    stylesheets += 1;
                }
                assert!(
                    href.starts_with('/') && !href.starts_with("//"),
                    "a link to this origin: {href}"
                );
                assert!(asset(&href).is_some(), "{href} is embedded");
            }
            "img" | "audio" | "video" | "iframe" | "object" | "embed" => {
                panic!("no <{name}> in the page skeleton: media comes as blobs through the API")
            }
            _ => {}
        }
    }
    assert_eq!(scripts, 1, "one script module");
    assert_eq!(stylesheets, 1, "one stylesheet");
    assert!(html.contains("name=\"viewport\""), "usable on a phone");
    assert!(html.contains("<html lang="), "the page names its language");

    let js = text_of("/app.js");
    for banned in [
        "console.",
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "setAttribute('style'",
        ".style.",
        "localStorage",
        "document.cookie",
    ] {
        assert!(!js.contains(banned), "app.js does not use `{banned}`");
    }
    assert!(
        js.contains("Authorization"),
        "the token travels in a header"
    );
    let css = text_of("/app.css");
    assert!(
        !css.contains("@import") && !css.contains("url(http") && !css.contains("url(//"),
        "the stylesheet loads nothing from elsewhere"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_serves_the_page_with_its_headers() {
    tokio::time::timeout(Duration::from_secs(60), serve())
        .await
        .expect("the test timed out");
}

async fn serve() {
    let world = World::new().await;
    let db = Database::sqlite();
    let server = world.start(world.config(&db, Vec::new(), &[])).await;
    let url = server.url();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    for (path, content_type, file) in [
        ("/", "text/html; charset=utf-8", "/index.html"),
        ("/index.html", "text/html; charset=utf-8", "/index.html"),
        ("/app.js", "text/javascript; charset=utf-8", "/app.js"),
        ("/app.css", "text/css; charset=utf-8", "/app.css"),
        ("/icon.svg", "image/svg+xml", "/icon.svg"),
    ] {
        let response = http.get(format!("{url}{path}")).send().await.unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::OK, "{path}");
        let headers = response.headers().clone();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_else(|| panic!("{path}: no {name} header"))
                .to_owned()
        };
        assert_eq!(header("content-type"), content_type, "{path}");
        assert_eq!(header("content-security-policy"), CSP, "{path}");
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert!(headers.get("set-cookie").is_none(), "{path}: no cookie");
        let body = response.bytes().await.unwrap();
        assert_eq!(
            &body[..],
            asset(file).unwrap().1,
            "{path}: the embedded bytes"
        );
    }
    // Anything else is a JSON 404, and nothing under /api/ is a file.
    for path in ["/missing.js", "/api/app.js", "/web/index.html"] {
        let response = http.get(format!("{url}{path}")).send().await.unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::NOT_FOUND, "{path}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{path}"
        );
    }
    server.shutdown(Duration::from_secs(10)).await;
}
