//! `Prefer: return=minimal` (RFC 7240): a client that needs only what a write did — the case's id,
//! number and new state — is spared the whole case read back after it. The server says it honoured
//! the preference with `Preference-Applied`; a client that does not ask gets the whole resource.

use axum::extract::FromRequestParts;
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;

/// Whether the request asked for a minimal answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReturnMinimal(pub bool);

impl<S: Send + Sync> FromRequestParts<S> for ReturnMinimal {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let values: Vec<&str> = parts.headers.get_all("prefer").iter().filter_map(|v| v.to_str().ok()).collect();
        Ok(ReturnMinimal(asks_minimal(&values.join(","))))
    }
}

/// The `Prefer` header's values joined: preferences separated by commas, each `token[=value]` with
/// optional parameters after `;`; names are case-insensitive and a value may be quoted. Of a preference
/// given twice the first counts (RFC 7240, section 2).
fn asks_minimal(header: &str) -> bool {
    header
        .split(',')
        .find_map(|pref| {
            let pref = pref.split(';').next().unwrap_or("");
            let (name, value) = pref.split_once('=').unwrap_or((pref, ""));
            name.trim().eq_ignore_ascii_case("return").then(|| value.trim().trim_matches('"'))
        })
        .is_some_and(|value| value.eq_ignore_ascii_case("minimal"))
}

/// The minimal answer, marked as such.
pub fn minimal(answer: impl IntoResponse) -> Response {
    let mut response = whole(answer);
    response
        .headers_mut()
        .insert(HeaderName::from_static("preference-applied"), HeaderValue::from_static("return=minimal"));
    response
}

/// The whole answer of a route that honours `return=minimal`. Either answer says it varies with
/// `Prefer` (RFC 7240, section 2), so no cache hands one client the form another asked for.
pub fn whole(answer: impl IntoResponse) -> Response {
    let mut response = answer.into_response();
    response.headers_mut().append(header::VARY, HeaderValue::from_static("prefer"));
    response
}

#[cfg(test)]
mod tests {
    use super::asks_minimal;

    #[test]
    fn reads_the_preference_among_others() {
        assert!(asks_minimal("return=minimal"));
        assert!(asks_minimal("respond-async, Return=\"Minimal\"; foo=bar"));
        assert!(asks_minimal(" wait=5 ,return = minimal"));
        assert!(!asks_minimal("return=representation"));
        assert!(!asks_minimal("minimal"));
        assert!(!asks_minimal("handling=lenient; return=minimal"));
        assert!(!asks_minimal(""));
        assert!(!asks_minimal("return=representation, return=minimal"), "the first counts");
        assert!(asks_minimal("return=minimal,return=representation"));
    }
}
