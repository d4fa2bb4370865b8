//! Just enough URL parsing for `wasi:http`: scheme, authority, path+query.

use crate::Error;

/// Where a request goes, split the way `wasi:http` wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub https: bool,
    /// `host[:port]`, as given.
    pub authority: String,
    /// `/path?query`, never empty; the fragment is dropped.
    pub path_with_query: String,
}

impl Target {
    pub fn parse(url: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::invalid_input(format!("bad URL {}: {why}", redact(url)));
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "http" => false,
            "https" => true,
            _ => return Err(bad("the scheme must be http or https")),
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if authority.is_empty() {
            return Err(bad("no host"));
        }
        if authority.contains('@') {
            // Credentials in URLs end up in error messages; headers do not.
            return Err(bad(
                "credentials in URLs are not supported, send an Authorization header",
            ));
        }
        if authority
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
            || path.chars().any(char::is_control)
        {
            return Err(bad("it contains whitespace or control characters"));
        }
        let path_with_query = match path {
            "" => "/".to_owned(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_owned(),
        };
        Ok(Self {
            https,
            authority: authority.to_owned(),
            path_with_query,
        })
    }
}

/// The URL for messages: without query string, fragment or credentials.
pub(crate) fn redact(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    let url = &url[..end];
    match (url.find("://"), url.find('@')) {
        // Leaves the credentials out by cutting before them; the scheme and
        // host still say which server it was.
        (Some(s), Some(at)) if at > s && !url[s + 3..at].contains('/') => &url[..s + 3],
        _ => url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str) -> (bool, String, String) {
        Target::parse(url)
            .map(|t| (t.https, t.authority, t.path_with_query))
            .unwrap_or_default()
    }

    #[test]
    fn splits_urls() {
        assert_eq!(
            ok("http://127.0.0.1:8081"),
            (false, "127.0.0.1:8081".into(), "/".into())
        );
        assert_eq!(
            ok("HTTPS://h/a/b?c=d#frag"),
            (true, "h".into(), "/a/b?c=d".into())
        );
        assert_eq!(ok("http://h?x=1"), (false, "h".into(), "/?x=1".into()));
        assert_eq!(
            ok("http://[::1]:80/p"),
            (false, "[::1]:80".into(), "/p".into())
        );
    }

    #[test]
    fn rejects_bad_urls() {
        for url in [
            "ftp://h/",
            "h/path",
            "http:///p",
            "http://u:p@h/",
            "http://h p/",
        ] {
            let err = Target::parse(url).err().map(|e| e.kind());
            assert_eq!(err, Some("invalid-input"), "{url}");
        }
        let msg = Target::parse("http://u:pw@h/").err().map(|e| e.to_string());
        assert!(msg.is_some_and(|m| !m.contains("pw")));
    }

    #[test]
    fn redacts_queries_and_credentials() {
        assert_eq!(redact("http://h/p?key=s#f"), "http://h/p");
        assert_eq!(redact("http://u:pw@h/p"), "http://");
        assert_eq!(redact("http://h/p@x"), "http://h/p@x");
    }
}
