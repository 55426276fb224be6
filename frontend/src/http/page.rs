//! The trading page: `GET /` and its script and style sheet, embedded in the binary so the
//! frontend serves them with no build step, no CDN and no files to deploy.
//!
//! Every asset is answered with its content type, a strong `ETag` (a hash of its bytes) and
//! `Cache-Control: no-cache`: a browser keeps its copy and revalidates it on each load, getting a
//! bodiless 304 while it is current, and never runs a stale script after an upgrade. The
//! Content-Security-Policy allows only this origin: no inline script or style, no other host.

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Where the page may load from and connect to: this origin only.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'; object-src 'none'";

/// One embedded file.
struct Asset {
    body: &'static str,
    content_type: &'static str,
    /// `"<hash of the body in hex>"`.
    etag: [u8; 18],
}

impl Asset {
    const fn new(body: &'static str, content_type: &'static str) -> Self {
        Self {
            body,
            content_type,
            etag: quoted_hex(fnv1a(body.as_bytes())),
        }
    }

    fn etag(&self) -> &str {
        // Made of ASCII quotes and hex digits only.
        std::str::from_utf8(&self.etag).unwrap_or("\"asset\"")
    }
}

static INDEX: Asset = Asset::new(
    include_str!("../../assets/index.html"),
    "text/html; charset=utf-8",
);
static SCRIPT: Asset = Asset::new(
    include_str!("../../assets/app.js"),
    "text/javascript; charset=utf-8",
);
static STYLE: Asset = Asset::new(
    include_str!("../../assets/app.css"),
    "text/css; charset=utf-8",
);

/// Declares the handler of one embedded asset together with its OpenAPI description.
macro_rules! asset_handler {
    ($(#[$doc:meta])* $handler:ident, $asset:ident, $path:tt, $id:tt, $what:tt, $media:tt) => {
        $(#[$doc])*
        #[utoipa::path(
            get,
            path = $path,
            operation_id = $id,
            tag = "page",
            params(("If-None-Match" = Option<String>, Header,
                description = "An ETag of this file the browser holds")),
            responses(
                (status = 200, description = $what, content_type = $media, body = String,
                    headers(("ETag" = String, description = "Hash of the file"),
                        ("Cache-Control" = String, description = "`no-cache`: revalidate on each load"),
                        ("Content-Security-Policy" = String, description = "Only this origin"))),
                (status = 304, description = "The browser's copy is current",
                    headers(("ETag" = String, description = "Hash of the file"))),
            )
        )]
        pub(super) async fn $handler(request: HeaderMap) -> Response {
            serve(&$asset, &request)
        }
    };
}

asset_handler!(
    /// The trading page: every stock live, a buy/sell form and an order lookup.
    index, INDEX, "/", "tradingPage", "The trading page", "text/html"
);
asset_handler!(
    /// The page's script.
    script, SCRIPT, "/app.js", "pageScript", "The page's script", "text/javascript"
);
asset_handler!(
    /// The page's style sheet.
    style, STYLE, "/app.css", "pageStyle", "The page's style sheet", "text/css"
);

/// The asset, or a bodiless 304 when the request's `If-None-Match` names its ETag.
fn serve(asset: &Asset, request: &HeaderMap) -> Response {
    let etag = asset.etag();
    let current = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|list| list.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*");
    let mut response = if current {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.body.into_response()
    };
    let headers = response.headers_mut();
    let mut set = |name: HeaderName, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set(header::ETAG, etag);
    set(header::CACHE_CONTROL, "no-cache");
    if !current {
        set(header::CONTENT_TYPE, asset.content_type);
    }
    set(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "no-referrer");
    response
}

/// `hash` as 16 hex digits between double quotes.
const fn quoted_hex(hash: u64) -> [u8; 18] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'"'; 18];
    let mut i = 0;
    while i < 16 {
        out[1 + i] = DIGITS[((hash >> (60 - 4 * i)) & 0xf) as usize];
        i += 1;
    }
    out
}

/// 64-bit FNV-1a: a stable hash of an asset's bytes, for its ETag.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_if_none_match(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn an_asset_comes_with_its_type_etag_caching_and_policy() {
        let response = serve(&SCRIPT, &HeaderMap::new());
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers();
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
        assert_eq!(headers[header::ETAG], SCRIPT.etag());
        let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(policy.starts_with("default-src 'self';"), "{policy}");
        assert!(!policy.contains("unsafe-inline"), "{policy}");
    }

    #[test]
    fn a_current_etag_gets_a_bodiless_304_and_another_gets_the_asset() {
        let current = serve(
            &INDEX,
            &with_if_none_match(&format!("\"x\", {}", INDEX.etag())),
        );
        assert_eq!(current.status(), StatusCode::NOT_MODIFIED);
        assert!(current.headers().get(header::CONTENT_TYPE).is_none());
        let stale = serve(&INDEX, &with_if_none_match("\"0000\""));
        assert_eq!(stale.status(), StatusCode::OK);
    }

    #[test]
    fn each_asset_has_its_own_etag() {
        assert_ne!(INDEX.etag(), SCRIPT.etag());
        assert_ne!(SCRIPT.etag(), STYLE.etag());
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(&quoted_hex(0xaf63_dc4c_8601_ec8c), b"\"af63dc4c8601ec8c\"");
    }

    #[test]
    fn the_page_loads_no_inline_script_and_nothing_from_elsewhere() {
        assert!(INDEX
            .body
            .contains(r#"<script src="/app.js" defer></script>"#));
        assert!(
            !INDEX.body.contains("<script>"),
            "inline script would be blocked"
        );
        assert!(
            !INDEX.body.contains(" style="),
            "inline style would be blocked"
        );
        assert!(!INDEX.body.contains("http://") && !INDEX.body.contains("https://"));
    }
}
