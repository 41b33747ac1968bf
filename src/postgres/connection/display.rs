//! How a connection prints: a URL rebuilt from its parsed parts, never the text given, with
//! the password left out (`user:***@` says that one is set).

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::model::{Connection, Host, SessionAttrs};

/// Everything but RFC 3986's unreserved characters is percent-encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn enc(text: &str) -> percent_encoding::PercentEncode<'_> {
    utf8_percent_encode(text, COMPONENT)
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "postgres://{}", enc(&self.user))?;
        if self.has_password() {
            f.write_str(":***")?;
        }
        f.write_str("@")?;
        let all_tcp = self.targets.iter().all(|t| matches!(t.host, Host::Tcp(_)));
        let mut query: Vec<(&str, String)> = Vec::new();
        if all_tcp {
            for (i, target) in self.targets.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                match &target.host {
                    Host::Tcp(name) if name.contains(':') => write!(f, "[{name}]")?,
                    Host::Tcp(name) => write!(f, "{}", enc(name))?,
                    Host::Unix(_) => {}
                }
                write!(f, ":{}", target.port)?;
            }
        } else {
            let hosts: Vec<String> = self.targets.iter().map(|t| t.host.name()).collect();
            let ports: Vec<String> = self.targets.iter().map(|t| t.port.to_string()).collect();
            query.push(("host", hosts.join(",")));
            query.push(("port", ports.join(",")));
        }
        write!(f, "/{}", enc(&self.dbname))?;
        if self.targets.iter().any(|t| t.hostaddr.is_some()) {
            let addrs: Vec<String> = self
                .targets
                .iter()
                .map(|t| t.hostaddr.map(|a| a.to_string()).unwrap_or_default())
                .collect();
            query.push(("hostaddr", addrs.join(",")));
        }
        query.push(("sslmode", self.tls.mode.as_str().to_owned()));
        let explicit = |k: &str| self.explicit.contains(k);
        if explicit("sslrootcert") {
            query.push(("sslrootcert", root_name(self)));
        }
        for (keyword, path) in [("sslcert", &self.tls.cert), ("sslkey", &self.tls.key)] {
            if let (true, Some(path)) = (explicit(keyword), path) {
                query.push((keyword, path.display().to_string()));
            }
        }
        if self.session_attrs != SessionAttrs::Any {
            query.push((
                "target_session_attrs",
                self.session_attrs.as_str().to_owned(),
            ));
        }
        if let Some(timeout) = self.connect_timeout {
            query.push(("connect_timeout", timeout.as_secs().to_string()));
        }
        if let Some(name) = &self.application_name {
            query.push(("application_name", name.clone()));
        }
        for (i, (key, value)) in query.iter().enumerate() {
            let separator = if i == 0 { '?' } else { '&' };
            write!(f, "{separator}{key}={}", enc(value))?;
        }
        Ok(())
    }
}

/// `system` or the root certificate file's path.
fn root_name(connection: &Connection) -> String {
    match &connection.tls.root {
        Some(super::model::RootCert::System) => "system".to_owned(),
        Some(super::model::RootCert::File(path)) => path.display().to_string(),
        None => String::new(),
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::super::env::Environment;
    use super::super::model::Connection;

    fn shown(text: &str) -> String {
        let env = Environment::empty().os_user("osuser");
        Connection::parse_in(text, &env).unwrap().to_string()
    }

    #[test]
    fn no_spelling_of_a_password_is_printed() {
        for password in [
            "pa?ss", "p@ss", "p#ss", "p%25ss", "p/ss", "p:ss", "p'ss", "p\"ss", "p\\ss", "p ss",
        ] {
            let url = format!("postgres://app:{password}@db/app");
            let text = if password.contains(['@', '/']) {
                // libpq needs these percent-encoded in a URL.
                format!(
                    "postgres://app:{}@db/app",
                    password.replace('@', "%40").replace('/', "%2F")
                )
            } else {
                url
            };
            assert_eq!(
                shown(&text),
                "postgres://app:***@db:5432/app?sslmode=prefer",
                "{text}"
            );
            let quoted = password.replace('\\', "\\\\").replace('\'', "\\'");
            let kv = format!("host=db user=app dbname=app password='{quoted}'");
            assert_eq!(
                shown(&kv),
                "postgres://app:***@db:5432/app?sslmode=prefer",
                "{kv}"
            );
        }
    }

    #[test]
    fn the_url_is_rebuilt_from_the_parts_and_the_defaults() {
        assert_eq!(
            shown(""),
            "postgres://osuser@/osuser?host=%2Fvar%2Frun%2Fpostgresql&port=5432&sslmode=prefer"
        );
        assert_eq!(
            shown(
                "postgres://u@h1,[::1]:5433/d%20b?sslmode=verify-full&sslrootcert=/ca.pem&target_session_attrs=read-write"
            ),
            "postgres://u@h1:5432,[::1]:5433/d%20b?sslmode=verify-full&sslrootcert=%2Fca.pem&target_session_attrs=read-write"
        );
    }
}
