//! Certificates made with `openssl` for the TLS tests, and clusters of the three kinds the
//! TLS tests need: without TLS, with TLS (accepting plain too), and with client
//! certificates required.

use std::path::PathBuf;

use crate::cluster::{Cluster, Setup};
use crate::skip::skip_or_fail;

/// A CA, a second CA that signed nothing of ours, a server certificate for `localhost`
/// and a client certificate for the user `postgres`, all made with `openssl`.
pub struct Certificates {
    dir: tempfile::TempDir,
}

impl Certificates {
    /// Makes them, or says why this machine cannot (`openssl` missing).
    pub async fn make(test: &str) -> Option<Self> {
        if tokio::process::Command::new("openssl")
            .arg("version")
            .output()
            .await
            .is_err()
        {
            skip_or_fail(
                test,
                "no openssl to make test certificates (Debian: openssl)",
            );
            return None;
        }
        let certs = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        certs.ca("ca").await;
        certs.ca("wrong-ca").await;
        certs
            .leaf(
                "server",
                "localhost",
                "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n",
            )
            .await;
        certs
            .leaf("client", "postgres", "extendedKeyUsage=clientAuth\n")
            .await;
        Some(certs)
    }

    /// `name.crt` / `name.key` in the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }

    async fn openssl(&self, args: &[&str]) {
        let output = tokio::process::Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .await
            .unwrap();
        assert!(output.status.success(), "openssl {args:?}: {output:?}");
    }

    /// `openssl req` with a new P-256 key, unencrypted, and `args`.
    async fn new_key(&self, args: &[&str]) {
        let mut all = vec![
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        all.extend_from_slice(args);
        self.openssl(&all).await;
    }

    async fn ca(&self, name: &str) {
        self.new_key(&[
            "-x509",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
            "-days",
            "2",
            "-subj",
            &format!("/CN=schemagate test {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ])
        .await;
    }

    async fn leaf(&self, name: &str, cn: &str, extensions: &str) {
        std::fs::write(
            self.path(&format!("{name}.ext")),
            format!("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n{extensions}"),
        )
        .unwrap();
        self.new_key(&[
            "-new",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={cn}"),
        ])
        .await;
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "2",
            "-days",
            "2",
            "-out",
            &format!("{name}.crt"),
            "-extfile",
            &format!("{name}.ext"),
        ])
        .await;
        std::fs::set_permissions(
            self.path(&format!("{name}.key")),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
    }
}

/// The three kinds of server of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// `ssl = off`.
    Plain,
    /// `ssl = on`; `hostssl` and `hostnossl` both trusted.
    Tls,
    /// `ssl = on` with `ssl_ca_file`; only `hostssl … cert`.
    ClientCert,
}

/// A cluster of that kind, with the server certificate.
pub async fn tls_cluster(test: &str, certs: &Certificates, server: Server) -> Option<Cluster> {
    let local = "local all all trust\n";
    let (conf, hba) = match server {
        Server::Plain => (
            "ssl = off\n".to_owned(),
            format!("{local}host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n"),
        ),
        Server::Tls => (
            "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n".to_owned(),
            format!(
                "{local}hostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n\
                 hostnossl all all 127.0.0.1/32 trust\nhostnossl all all ::1/128 trust\n"
            ),
        ),
        Server::ClientCert => (
            "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nssl_ca_file = 'ca.crt'\n"
                .to_owned(),
            format!("{local}hostssl all all 127.0.0.1/32 cert\nhostssl all all ::1/128 cert\n"),
        ),
    };
    let files = vec![
        ("server.crt".to_owned(), certs.read("server.crt")),
        ("server.key".to_owned(), certs.read("server.key")),
        ("ca.crt".to_owned(), certs.read("ca.crt")),
    ];
    Cluster::start(
        test,
        Setup {
            conf,
            hba: Some(hba),
            files,
        },
    )
    .await
}
