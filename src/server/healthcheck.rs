//! `schemagate healthcheck`: GET the local `/health` for Docker's `HEALTHCHECK` in images
//! without curl. Plain HTTP only: the endpoint is local.

use std::time::Duration;

use hyper::{Client, StatusCode, Uri};

/// How long the whole request may take.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// The health endpoint did not answer 200.
#[derive(Debug, thiserror::Error)]
pub enum HealthcheckError {
    /// The URL is not an `http://` URL.
    #[error("--url {url} is not an http:// URL: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No answer.
    #[error("GET {url} failed: {cause}")]
    Request {
        /// The URL.
        url: String,
        /// The innermost cause (`Connection refused (os error 111)`): hyper's errors repeat
        /// their causes in their own text, so the whole chain would say it four times.
        cause: String,
    },
    /// No answer in time.
    #[error("GET {url}: no answer within {TIMEOUT:?}")]
    Timeout {
        /// The URL.
        url: String,
    },
    /// An answer other than 200.
    #[error("GET {url} answered {status}: {body}")]
    Unhealthy {
        /// The URL.
        url: String,
        /// The status.
        status: StatusCode,
        /// The start of the body (the `reason` of a 503).
        body: String,
    },
}

/// The text of the last error in `error`'s source chain.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut last = error;
    while let Some(source) = last.source() {
        last = source;
    }
    last.to_string()
}

/// GETs `url`; `Ok` only on 200.
pub async fn check(url: &str) -> Result<(), HealthcheckError> {
    let uri: Uri =
        url.parse()
            .map_err(|e: hyper::http::uri::InvalidUri| HealthcheckError::Url {
                url: url.to_owned(),
                reason: e.to_string(),
            })?;
    if uri.scheme_str() != Some("http") {
        return Err(HealthcheckError::Url {
            url: url.to_owned(),
            reason: "only http is supported".to_owned(),
        });
    }
    let request = async {
        let response = Client::new().get(uri).await?;
        let status = response.status();
        let body = hyper::body::to_bytes(response.into_body()).await?;
        Ok::<_, hyper::Error>((status, body))
    };
    let (status, body) = tokio::time::timeout(TIMEOUT, request)
        .await
        .map_err(|_| HealthcheckError::Timeout {
            url: url.to_owned(),
        })?
        .map_err(|error| HealthcheckError::Request {
            url: url.to_owned(),
            cause: root_cause(&error),
        })?;
    if status == StatusCode::OK {
        return Ok(());
    }
    let body = String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned();
    Err(HealthcheckError::Unhealthy {
        url: url.to_owned(),
        status,
        body,
    })
}
