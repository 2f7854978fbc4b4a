//! The embedded web console at `/_coffer/console/`: static HTML, JavaScript and CSS
//! compiled into the binary. The page signs its own S3 and admin requests with SigV4 in
//! the browser (WebCrypto), so serving it needs no authentication and no state.
//!
//! The HTTP hook for unauthenticated `GET`/`HEAD` on `/_coffer/...` calls [`serve`] for the
//! body and its content type, adds [`HEADERS`] to the answer, and answers `/_coffer/console`
//! (no slash) with a redirect to [`redirect`]'s location.

/// Where the console lives; every asset is below it.
pub const PREFIX: &str = "/_coffer/console/";

/// Headers every console answer carries: no caching of stale code, no sniffing, no
/// framing, and scripts, styles and connections only from the server itself.
pub const HEADERS: &[(&str, &str)] = &[
    ("cache-control", "no-cache"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    (
        "content-security-policy",
        "default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'",
    ),
];

const INDEX: (&str, &[u8]) = ("text/html; charset=utf-8", include_bytes!("../console/index.html"));

const ASSETS: &[(&str, &str, &[u8])] = &[
    ("index.html", INDEX.0, INDEX.1),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../console/app.js"),
    ),
    (
        "sigv4.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../console/sigv4.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../console/style.css"),
    ),
];

/// The content type and body for a request path (without its query), or `None` when the
/// path is not the console's. The folder itself and any sub-path that is not an asset get
/// `index.html`, so that deep links such as `/_coffer/console/buckets/photos` load the page.
pub fn serve(path: &str) -> Option<(&'static str, &'static [u8])> {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let rest = path.strip_prefix(PREFIX)?;
    Some(
        ASSETS
            .iter()
            .find(|(name, _, _)| *name == rest)
            .map_or(INDEX, |&(_, ty, body)| (ty, body)),
    )
}

/// The `Location` for a path that should be redirected into the console: `/_coffer/console`
/// without its trailing slash.
pub fn redirect(path: &str) -> Option<&'static str> {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    (path == "/_coffer/console").then_some(PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_and_unknown_paths_get_the_page() {
        for p in [
            "/_coffer/console/",
            "/_coffer/console/index.html",
            "/_coffer/console/buckets/photos/2024/",
            "/_coffer/console/?x=1",
            "/_coffer/console/nope.js",
        ] {
            let (ty, body) = serve(p).unwrap_or_else(|| panic!("{p}"));
            assert_eq!(ty, "text/html; charset=utf-8", "{p}");
            assert!(body.starts_with(b"<!doctype html>"), "{p}");
        }
    }

    #[test]
    fn assets_have_their_types() {
        let (ty, body) = serve("/_coffer/console/app.js").unwrap();
        assert_eq!(ty, "text/javascript; charset=utf-8");
        assert!(std::str::from_utf8(body).unwrap().contains("import"));
        assert_eq!(
            serve("/_coffer/console/sigv4.js").unwrap().0,
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            serve("/_coffer/console/style.css").unwrap().0,
            "text/css; charset=utf-8"
        );
    }

    #[test]
    fn other_paths_are_not_the_console() {
        for p in [
            "/_coffer/console",
            "/_coffer/consoles/",
            "/_coffer/admin/v1/info",
            "/bucket/_coffer/console/",
            "/",
        ] {
            assert!(serve(p).is_none(), "{p}");
        }
    }

    #[test]
    fn redirect_adds_the_slash() {
        assert_eq!(redirect("/_coffer/console"), Some("/_coffer/console/"));
        assert_eq!(redirect("/_coffer/console?x"), Some("/_coffer/console/"));
        assert_eq!(redirect("/_coffer/console/"), None);
        assert_eq!(redirect("/_coffer/consolex"), None);
    }

    #[test]
    fn page_loads_only_its_own_assets() {
        let html = std::str::from_utf8(INDEX.1).unwrap();
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "no external resources"
        );
        assert!(!html.contains("<script>"), "no inline scripts (the CSP forbids them)");
        for (name, _, _) in ASSETS {
            assert!(serve(&format!("{PREFIX}{name}")).is_some());
        }
        let csp = HEADERS.iter().find(|(k, _)| *k == "content-security-policy").unwrap().1;
        for part in [
            "default-src 'self'",
            "connect-src 'self'",
            "img-src 'self' data: blob:",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(part), "{part}");
        }
    }
}
