//! One download of a key set: over HTTP from the JWKS URL, or from the user's
//! [`JwksProvider`], bounded in time and size, and why it failed ([`FetchError`]).

use super::provider::JwksProvider;
use super::source::KeySettings;
use crate::observe;
use reqwest::Url;
use std::sync::Arc;

pub(super) async fn download_http(
    settings: &KeySettings,
    url: &Url,
) -> Result<Vec<u8>, FetchError> {
    let max = settings.fetch.max_size;
    let mut response = settings
        .fetch
        .client
        .get(url.clone())
        .header(http::header::ACCEPT, "application/json")
        .timeout(settings.fetch.fetch_timeout)
        .send()
        .await
        .map_err(describe)?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(FetchError {
            outcome: observe::Fetch::Status(response.status().as_u16()),
            reason: format!("HTTP status {}", response.status()),
        });
    }
    if let Some(length) = response.content_length().filter(|&len| len > max as u64) {
        return Err(FetchError::too_large(format!(
            "Content-Length {length} is over the {max}-byte limit"
        )));
    }
    let expected = response.content_length().unwrap_or(0) as usize;
    let mut body = Vec::with_capacity(expected.min(max));
    // Chunk by chunk, so that an oversized body is dropped (and its connection
    // closed) at the limit instead of being read whole.
    while let Some(chunk) = response.chunk().await.map_err(describe)? {
        if chunk.len() > max - body.len() {
            return Err(FetchError::too_large(format!(
                "response is over the {max}-byte limit"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Calls the user's provider in a task of its own, so that a panic in it is
/// a failed fetch (and not an abandoned flight, which would let the next
/// request call it again at once), bounded by the fetch timeout.
pub(super) async fn call_provider(
    settings: &KeySettings,
    provider: &Arc<dyn JwksProvider>,
) -> Result<Vec<u8>, FetchError> {
    let provider = Arc::clone(provider);
    let task = tokio::spawn(async move { provider.fetch().await });
    let abort = task.abort_handle();
    let body = match tokio::time::timeout(settings.fetch.fetch_timeout, task).await {
        Err(_) => {
            abort.abort();
            return Err(FetchError {
                outcome: observe::Fetch::Timeout,
                reason: "timed out".to_owned(),
            });
        }
        Ok(Err(join)) => {
            return Err(FetchError {
                outcome: observe::Fetch::Error,
                reason: if join.is_panic() {
                    "the JwksProvider panicked".to_owned()
                } else {
                    "the JwksProvider's task was cancelled".to_owned()
                },
            });
        }
        Ok(Ok(Err(err))) => {
            return Err(FetchError {
                outcome: observe::Fetch::Error,
                reason: error_chain(&*err),
            });
        }
        Ok(Ok(Ok(body))) => body,
    };
    let max = settings.fetch.max_size;
    if body.len() > max {
        return Err(FetchError::too_large(format!(
            "document of {} bytes is over the {max}-byte limit",
            body.len()
        )));
    }
    Ok(body)
}

/// Why a fetch failed: its class for metrics, and words for the logs.
#[derive(Debug)]
pub(super) struct FetchError {
    pub(super) outcome: observe::Fetch,
    pub(super) reason: String,
}

impl FetchError {
    pub(super) fn too_large(reason: String) -> Self {
        Self {
            outcome: observe::Fetch::TooLarge,
            reason,
        }
    }
}

fn describe(err: reqwest::Error) -> FetchError {
    let outcome = if err.is_timeout() {
        observe::Fetch::Timeout
    } else {
        observe::Fetch::Error
    };
    FetchError {
        outcome,
        reason: describe_text(err),
    }
}

fn describe_text(err: reqwest::Error) -> String {
    let err = err.without_url();
    if err.is_timeout() {
        let mut text = "timed out".to_owned();
        if let Some(source) = std::error::Error::source(&err) {
            text.push_str(": ");
            text.push_str(&error_chain(source));
        }
        text
    } else {
        error_chain(&err)
    }
}

/// An error and its sources, joined by `: `.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
