//! Parsing the two spellings of a connection, as libpq's `conninfo_parse` and
//! `conninfo_uri_parse_options` read them (PostgreSQL's `src/interfaces/libpq/fe-connect.c`),
//! into keyword/value pairs, before any default is applied.
//!
//! The URL's authority is split by libpq's rules, not the WHATWG ones of the `url` crate:
//! the user info ends at the first `@` before the first `/` (so `postgres://app:pa?ss@db/x`
//! has the password `pa?ss`, as in `psql`), each of several hosts has its own port
//! (`h1:5432,h2:5433`), and `+` in the query is a plus, not a space. Values are
//! percent-decoded with the `percent-encoding` crate (the `url` crate's own decoder).

use percent_encoding::percent_decode_str;

use super::ConnectionError;

/// Every keyword libpq 15–17 knows. Anything else is refused, as libpq refuses it; those
/// schemagate does not implement are refused later, with their name ([`super::settings`]).
pub const LIBPQ_KEYWORDS: &[&str] = &[
    "service",
    "user",
    "password",
    "passfile",
    "channel_binding",
    "connect_timeout",
    "dbname",
    "host",
    "hostaddr",
    "port",
    "client_encoding",
    "options",
    "application_name",
    "fallback_application_name",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "sslmode",
    "sslnegotiation",
    "sslcompression",
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslcertmode",
    "sslrootcert",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "requirepeer",
    "require_auth",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "gssencmode",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "replication",
    "target_session_attrs",
    "load_balance_hosts",
    "requiressl",
];

/// The keyword/value pairs given, in order; a later value of a keyword replaces an earlier.
#[derive(Default, Clone)]
pub struct Given {
    pairs: Vec<(String, String)>,
}

impl Given {
    /// The value given for `keyword`, if any.
    pub fn get(&self, keyword: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == keyword)
            .map(|(_, v)| v.as_str())
    }

    /// Every keyword given.
    pub fn keywords(&self) -> impl Iterator<Item = &str> {
        self.pairs.iter().map(|(k, _)| k.as_str())
    }

    fn set(&mut self, keyword: &str, value: String) -> Result<(), ConnectionError> {
        if !LIBPQ_KEYWORDS.contains(&keyword) {
            return Err(ConnectionError::UnknownKeyword {
                keyword: keyword.to_owned(),
            });
        }
        self.pairs.push((keyword.to_owned(), value));
        Ok(())
    }
}

/// Parses a `postgres://` / `postgresql://` URL or a key=value string.
pub fn parse(text: &str) -> Result<Given, ConnectionError> {
    match uri_body(text) {
        Some(body) => parse_uri(body),
        None => parse_key_values(text),
    }
}

/// The text after the URL prefix, when `text` is a URL.
fn uri_body(text: &str) -> Option<&str> {
    text.strip_prefix("postgresql://")
        .or_else(|| text.strip_prefix("postgres://"))
}

/// `[user[:password]@][host][:port][,...][/dbname][?param=value&...]`.
fn parse_uri(body: &str) -> Result<Given, ConnectionError> {
    let mut given = Given::default();
    // libpq: the credentials end at the first '@' met before any '/'.
    let rest = match body.find(['@', '/']) {
        Some(at) if body.as_bytes()[at] == b'@' => {
            let userinfo = &body[..at];
            let (user, password) = match userinfo.split_once(':') {
                Some((user, password)) => (user, Some(password)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                given.set("user", decode(user)?)?;
            }
            if let Some(password) = password.filter(|p| !p.is_empty()) {
                given.set("password", decode(password)?)?;
            }
            &body[at + 1..]
        }
        _ => body,
    };
    let (hosts, ports, rest) = split_netlocs(rest)?;
    if hosts.iter().any(|h| !h.is_empty()) || hosts.len() > 1 {
        let decoded: Result<Vec<String>, _> = hosts.iter().map(|h| decode(h)).collect();
        given.set("host", decoded?.join(","))?;
    }
    if ports.iter().any(|p| !p.is_empty()) {
        let decoded: Result<Vec<String>, _> = ports.iter().map(|p| decode(p)).collect();
        given.set("port", decoded?.join(","))?;
    }
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    if let Some(dbname) = path.strip_prefix('/').filter(|d| !d.is_empty()) {
        given.set("dbname", decode(dbname)?)?;
    }
    if let Some(query) = query {
        parse_query(query, &mut given)?;
    }
    Ok(given)
}

/// The comma-separated `host[:port]` list (IPv6 addresses in brackets) and what follows it
/// (`/dbname?…`, `?…` or nothing).
fn split_netlocs(mut rest: &str) -> Result<(Vec<&str>, Vec<&str>, &str), ConnectionError> {
    let mut hosts = Vec::new();
    let mut ports = Vec::new();
    loop {
        let host;
        if let Some(inner) = rest.strip_prefix('[') {
            let close = inner.find(']').ok_or_else(|| {
                ConnectionError::syntax(
                    "end of string reached when looking for the \"]\" of an IPv6 host address",
                )
            })?;
            if close == 0 {
                return Err(ConnectionError::syntax(
                    "an IPv6 host address may not be empty",
                ));
            }
            host = &inner[..close];
            rest = &inner[close + 1..];
            if !rest.is_empty() && !rest.starts_with([':', '/', '?', ',']) {
                return Err(ConnectionError::syntax(
                    "unexpected character after an IPv6 host address (expected \":\", \"/\", \"?\" or \",\")",
                ));
            }
        } else {
            let end = rest.find([':', '/', '?', ',']).unwrap_or(rest.len());
            host = &rest[..end];
            rest = &rest[end..];
        }
        hosts.push(host);
        let mut port = "";
        if let Some(after) = rest.strip_prefix(':') {
            let end = after.find(['/', '?', ',']).unwrap_or(after.len());
            port = &after[..end];
            rest = &after[end..];
        }
        ports.push(port);
        match rest.strip_prefix(',') {
            Some(next) => rest = next,
            None => return Ok((hosts, ports, rest)),
        }
    }
}

/// `key=value&key=value`, each side percent-decoded; `ssl=true` is JDBC's `sslmode=require`.
fn parse_query(query: &str, given: &mut Given) -> Result<(), ConnectionError> {
    for pair in query.split('&') {
        if pair.is_empty() {
            continue;
        }
        let (key, value) = pair.split_once('=').ok_or_else(|| {
            ConnectionError::syntax(format!(
                "missing key/value separator \"=\" in URL query parameter {:?}",
                key_only(pair)
            ))
        })?;
        if value.contains('=') {
            return Err(ConnectionError::syntax(format!(
                "extra key/value separator \"=\" in URL query parameter {key:?}"
            )));
        }
        let key = decode(key)?;
        let value = decode(value)?;
        if key == "ssl" && value == "true" {
            given.set("sslmode", "require".to_owned())?;
        } else {
            given.set(&key, value)?;
        }
    }
    Ok(())
}

/// A query pair without `=` is shown whole only when it cannot be a value.
fn key_only(pair: &str) -> &str {
    if pair.len() > 40 { "…" } else { pair }
}

/// libpq's `conninfo_uri_decode`: `%XX` with two hex digits, `%00` forbidden.
fn decode(text: &str) -> Result<String, ConnectionError> {
    let bytes = text.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%' {
            let hex = bytes.get(i + 1..i + 3);
            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                return Err(ConnectionError::syntax(
                    "invalid percent-encoded token in the URL (write % as %25)",
                ));
            }
            if hex == Some(b"00") {
                return Err(ConnectionError::syntax(
                    "forbidden value %00 in a percent-encoded value",
                ));
            }
        }
    }
    percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| ConnectionError::syntax("a percent-encoded value is not UTF-8"))
}

/// `keyword = value ...`: values may be single-quoted; a backslash escapes the next
/// character, quoted or not.
fn parse_key_values(text: &str) -> Result<Given, ConnectionError> {
    let mut given = Given::default();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(given);
        }
        let mut keyword = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_ascii_whitespace()) {
            keyword.push(c);
        }
        while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(ConnectionError::syntax(format!(
                "missing \"=\" after {keyword:?} in the connection string"
            )));
        }
        while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    None => {
                        return Err(ConnectionError::syntax(
                            "unterminated quoted string in the connection string",
                        ));
                    }
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_ascii_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        given.set(&keyword, value)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text).unwrap().pairs
    }

    fn p(k: &str, v: &str) -> (String, String) {
        (k.to_owned(), v.to_owned())
    }

    #[test]
    fn a_url_is_split_the_way_libpq_splits_it() {
        assert_eq!(
            pairs("postgres://app:pa?ss@db.example:5433/app?sslmode=verify-full"),
            [
                p("user", "app"),
                p("password", "pa?ss"),
                p("host", "db.example"),
                p("port", "5433"),
                p("dbname", "app"),
                p("sslmode", "verify-full")
            ]
        );
        assert_eq!(
            pairs("postgresql://u:p%40%2F%3A%23%25%20@h/d%20b"),
            [
                p("user", "u"),
                p("password", "p@/:#% "),
                p("host", "h"),
                p("dbname", "d b")
            ]
        );
        assert_eq!(pairs("postgres://"), []);
        assert_eq!(pairs("postgres:///db"), [p("dbname", "db")]);
        assert_eq!(
            pairs("postgres://u@/db?host=/var/run/postgresql&port=5433"),
            [
                p("user", "u"),
                p("dbname", "db"),
                p("host", "/var/run/postgresql"),
                p("port", "5433")
            ]
        );
    }

    #[test]
    fn several_hosts_keep_their_own_ports() {
        assert_eq!(
            pairs("postgres://h1:5432,h2,[::1]:5434/db?target_session_attrs=read-write"),
            [
                p("host", "h1,h2,::1"),
                p("port", "5432,,5434"),
                p("dbname", "db"),
                p("target_session_attrs", "read-write")
            ]
        );
        assert_eq!(
            pairs("postgres://h1,h2:5433"),
            [p("host", "h1,h2"), p("port", ",5433")]
        );
    }

    #[test]
    fn a_plus_in_the_query_is_a_plus_and_ssl_true_means_require() {
        assert_eq!(
            pairs("postgres://h/?application_name=a+b&ssl=true"),
            [
                p("host", "h"),
                p("application_name", "a+b"),
                p("sslmode", "require")
            ]
        );
    }

    #[test]
    fn broken_urls_are_refused_with_the_reason() {
        for (url, reason) in [
            ("postgres://h/?sslmode", "missing key/value separator"),
            ("postgres://h/?a=b=c", "extra key/value separator"),
            ("postgres://h/?nosuch=1", "nosuch"),
            ("postgres://u:p%zz@h/", "percent-encoded"),
            ("postgres://u:p%00@h/", "%00"),
            ("postgres://[::1/db", "IPv6"),
            ("postgres://[]/db", "IPv6"),
        ] {
            let error = parse(url).err().unwrap().to_string();
            assert!(error.contains(reason), "{url}: {error}");
        }
    }

    #[test]
    fn key_value_strings_take_quotes_and_backslash_escapes() {
        assert_eq!(
            pairs(r"host=db  user = app password='it\'s a \\ secret' dbname=a\ b"),
            [
                p("host", "db"),
                p("user", "app"),
                p("password", r"it's a \ secret"),
                p("dbname", "a b")
            ]
        );
        assert_eq!(pairs("password=''"), [p("password", "")]);
        assert_eq!(pairs("  "), []);
    }

    #[test]
    fn broken_key_value_strings_are_refused_with_the_reason() {
        for (text, reason) in [
            ("host", "missing \"=\""),
            ("password='open", "unterminated quoted string"),
            ("colour=blue", "colour"),
        ] {
            let error = parse(text).err().unwrap().to_string();
            assert!(error.contains(reason), "{text}: {error}");
        }
    }
}
