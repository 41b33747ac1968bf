//! TLS over rustls with libpq's `sslmode` semantics.
//!
//! What is checked follows libpq's `initialize_SSL` (fe-secure-openssl.c): the chain is
//! verified whenever a root certificate is available (`sslrootcert`, or
//! `~/.postgresql/root.crt` when it exists), in every mode that uses TLS; `verify-ca` and
//! `verify-full` refuse to go on without one; only `verify-full` checks the host name. A
//! client certificate is sent when `sslcert` (default `~/.postgresql/postgresql.crt`)
//! exists, with its key (`sslkey`), which must not be readable by group or others.
//!
//! Two differences from OpenSSL are bridged: webpki refuses a certificate that is its own
//! root (the self-signed `server.crt` of PostgreSQL's documentation, used as
//! `sslrootcert`), which OpenSSL accepts, so a server certificate found verbatim among the
//! roots is trusted as OpenSSL trusts it; and webpki never falls back to the subject's CN
//! for the host name (libpq does when the certificate has no name of the host's type), so
//! verify-full needs the host in the subjectAltName.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::model::{RootCert, SslMode, TlsSettings};

/// The TLS setup could not be made: a missing or unreadable certificate or key file.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct TlsSetupError(pub String);

/// The connector every attempt of a connection uses (also the plain ones: tokio-postgres
/// takes one connector type per connection).
pub(crate) fn connector(settings: &TlsSettings) -> Result<MakeRustlsConnect, TlsSetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let check = if settings.mode == SslMode::Disable {
        Check::Nothing
    } else {
        match roots(settings, &provider)? {
            Some(roots) if settings.mode == SslMode::VerifyFull => Check::ChainAndName(roots),
            Some(roots) => Check::Chain(roots),
            None => Check::Nothing,
        }
    };
    let versions: &[&'static rustls::SupportedProtocolVersion] = if settings.tls13_only {
        &[&rustls::version::TLS13]
    } else if settings.tls12_only {
        &[&rustls::version::TLS12]
    } else {
        rustls::DEFAULT_VERSIONS
    };
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| TlsSetupError(format!("cannot set up TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Verifier { check, provider }));
    let mut config = match client_certificate(settings)? {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key).map_err(|e| {
            TlsSetupError(format!(
                "the client certificate and key do not go together: {e}; check sslcert and sslkey"
            ))
        })?,
        None => builder.with_no_client_auth(),
    };
    config.enable_sni = settings.sni;
    Ok(MakeRustlsConnect::new(config))
}

/// What the server's certificate must pass.
#[derive(Debug)]
enum Check {
    /// Nothing (no root certificate in `allow`, `prefer` or `require`).
    Nothing,
    /// A chain to one of the roots.
    Chain(Roots),
    /// A chain to one of the roots, for the host name.
    ChainAndName(Roots),
}

/// The trusted roots, as webpki uses them and as given.
#[derive(Debug)]
struct Roots {
    webpki: Arc<WebPkiServerVerifier>,
    der: Vec<CertificateDer<'static>>,
}

/// The root certificates, or `None` when there are none and the mode does not need them.
fn roots(
    settings: &TlsSettings,
    provider: &Arc<CryptoProvider>,
) -> Result<Option<Roots>, TlsSetupError> {
    let der: Vec<CertificateDer<'static>> = match &settings.root {
        Some(RootCert::System) => {
            let found = rustls_native_certs::load_native_certs();
            if found.certs.is_empty() {
                return Err(TlsSetupError(format!(
                    "sslrootcert=system, but no trusted root certificates were found on this system ({:?}); install the ca-certificates package or give sslrootcert=FILE",
                    found.errors
                )));
            }
            found.certs
        }
        Some(RootCert::File(path)) if path.exists() => read_certificates(path, "root certificate")?,
        Some(RootCert::File(path)) if settings.mode.verifies() => {
            return Err(TlsSetupError(format!(
                "root certificate file {} does not exist; either provide the file (sslrootcert=FILE), use the system's trusted roots with sslrootcert=system, or change sslmode to disable server certificate verification",
                path.display()
            )));
        }
        None if settings.mode.verifies() => {
            return Err(TlsSetupError(format!(
                "sslmode={} needs a root certificate, and there is no home directory to find ~/.postgresql/root.crt in; give sslrootcert=FILE or sslrootcert=system",
                settings.mode.as_str()
            )));
        }
        _ => return Ok(None),
    };
    let mut store = RootCertStore::empty();
    let (added, _ignored) = store.add_parsable_certificates(der.iter().cloned());
    if added == 0 {
        return Err(TlsSetupError(
            "none of the root certificates can be used (sslrootcert holds no valid CA certificate)"
                .to_owned(),
        ));
    }
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
        .build()
        .map_err(|e| TlsSetupError(format!("cannot use the root certificates: {e}")))?;
    Ok(Some(Roots { webpki, der }))
}

/// Every certificate of a PEM file.
fn read_certificates(
    path: &Path,
    what: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| {
            TlsSetupError(format!(
                "cannot read the {what} file {}: {e}",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(TlsSetupError(format!(
            "the {what} file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        )));
    }
    Ok(certs)
}

/// The client certificate chain and key, when `sslcert` exists (libpq goes on without one
/// when the file is missing).
fn client_certificate(
    settings: &TlsSettings,
) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, TlsSetupError> {
    let Some(cert) = settings.cert.as_deref().filter(|c| c.exists()) else {
        return Ok(None);
    };
    let chain = read_certificates(cert, "client certificate")?;
    let key = settings.key.as_deref().ok_or_else(|| {
        TlsSetupError(format!(
            "certificate present, but no private key file for {}: give sslkey",
            cert.display()
        ))
    })?;
    let metadata = std::fs::metadata(key).map_err(|e| {
        TlsSetupError(format!(
            "certificate present, but not the private key file {}: {e}; give sslkey",
            key.display()
        ))
    })?;
    let mode = metadata.mode();
    // libpq: 0600 or less when owned by the user, 0640 or less when owned by root.
    let euid = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
    let loose = (Some(metadata.uid()) == euid && mode & 0o077 != 0)
        || (metadata.uid() == 0 && mode & 0o037 != 0);
    if !metadata.is_file() || loose {
        return Err(TlsSetupError(format!(
            "private key file {} has group or world access; it must have permissions u=rw (0600) or less if owned by the current user, or u=rw,g=r (0640) or less if owned by root: run chmod 0600 on it",
            key.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        TlsSetupError(format!(
            "cannot read the private key file {}: {e}",
            key.display()
        ))
    })?;
    Ok(Some((chain, key)))
}

/// Checks the server's certificate as [`Check`] says, and the handshake's signatures always.
#[derive(Debug)]
struct Verifier {
    check: Check,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let (roots, name) = match &self.check {
            Check::Nothing => return Ok(ServerCertVerified::assertion()),
            Check::Chain(roots) => (roots, false),
            Check::ChainAndName(roots) => (roots, true),
        };
        let result = roots.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match result {
            Ok(verified) => Ok(verified),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !name => Ok(ServerCertVerified::assertion()),
            // A certificate that is itself one of the roots: trusted, as OpenSSL trusts it.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer | CertificateError::Other(_),
            )) if roots
                .der
                .iter()
                .any(|root| root.as_ref() == end_entity.as_ref()) =>
            {
                if name {
                    webpki::EndEntityCert::try_from(end_entity)
                        .map_err(|e| {
                            rustls::Error::InvalidCertificate(CertificateError::Other(
                                rustls::OtherError(Arc::new(e)),
                            ))
                        })?
                        .verify_is_valid_for_subject_name(server_name)
                        .map_err(|_| {
                            rustls::Error::InvalidCertificate(CertificateError::NotValidForName)
                        })?;
                }
                Ok(ServerCertVerified::assertion())
            }
            Err(error) => Err(error),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The check that failed, when `error` is a TLS failure that retrying cannot fix: a
/// certificate or handshake refused by either side, or a server without TLS under
/// `sslmode=require` or stricter. `host` is the name the certificate was checked against.
pub(crate) fn failed_check(error: &tokio_postgres::Error, host: &str) -> Option<String> {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let rustls = cause.downcast_ref::<rustls::Error>().or_else(|| {
            cause
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(rustls) = rustls {
            return Some(describe(rustls, host));
        }
        if cause.to_string() == "server does not support TLS" {
            return Some(format!(
                "the server at {host} does not accept TLS connections (ssl is off); enable ssl on the server, or use sslmode=prefer"
            ));
        }
        source = cause.source();
    }
    None
}

/// `localhost` of rustls's `DnsName("localhost")` (and the address of `IpAddress(…)`).
fn bare_name(presented: &str) -> &str {
    presented
        .split_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .map_or(presented, |inner| inner.trim_matches('"'))
}

/// A rustls error in libpq's words where there are some.
fn describe(error: &rustls::Error, host: &str) -> String {
    use CertificateError as C;
    match error {
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => format!(
            "unknown issuer: the certificate of {host} is not signed by a trusted root (sslrootcert)"
        ),
        rustls::Error::InvalidCertificate(C::NotValidForNameContext {
            expected,
            presented,
        }) => format!(
            "certificate for {} does not match host {}",
            presented
                .iter()
                .map(|p| bare_name(p))
                .collect::<Vec<_>>()
                .join(", "),
            expected.to_str()
        ),
        rustls::Error::InvalidCertificate(C::NotValidForName) => {
            format!("the certificate does not match host {host}")
        }
        rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            format!("the certificate of {host} has expired")
        }
        rustls::Error::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => {
            format!("the certificate of {host} is not valid yet")
        }
        rustls::Error::InvalidCertificate(other) => {
            format!("the certificate of {host} is refused: {other:?}")
        }
        rustls::Error::AlertReceived(alert) => format!(
            "the server at {host} ended the TLS handshake ({alert:?}); if it wants a client certificate, give sslcert and sslkey signed by a CA in its ssl_ca_file"
        ),
        other => format!("TLS handshake with {host} failed: {other}"),
    }
}
