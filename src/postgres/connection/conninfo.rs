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
pub(crate) const LIBPQ_KEYWORDS: &[&str] = &[
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

/// One keyword/value pair, with the byte offsets of both in the string.
#[derive(Clone)]
struct Pair {
    keyword: String,
    value: String,
    at: usize,
}

/// The keyword/value pairs given, in order; a later value of a keyword replaces an earlier.
#[derive(Default, Clone)]
pub(crate) struct Given {
    pairs: Vec<Pair>,
}

impl Given {
    /// The value given for `keyword`, if any.
    pub(crate) fn get(&self, keyword: &str) -> Option<&str> {
        self.find(keyword).map(|p| p.value.as_str())
    }

    /// Where the value of `keyword` is in the string (bytes from its start), for messages
    /// that must not show the value.
    pub(crate) fn position(&self, keyword: &str) -> Option<usize> {
        self.find(keyword).map(|p| p.at)
    }

    /// Every keyword given.
    pub(crate) fn keywords(&self) -> impl Iterator<Item = &str> {
        self.pairs.iter().map(|p| p.keyword.as_str())
    }

    fn find(&self, keyword: &str) -> Option<&Pair> {
        self.pairs.iter().rev().find(|p| p.keyword == keyword)
    }

    /// Adds a pair whose keyword is at `keyword_at` and value at `at`.
    fn set(
        &mut self,
        keyword: &str,
        value: String,
        keyword_at: usize,
        at: usize,
    ) -> Result<(), ConnectionError> {
        if !LIBPQ_KEYWORDS.contains(&keyword) {
            return Err(ConnectionError::UnknownKeyword { at: keyword_at });
        }
        self.pairs.push(Pair {
            keyword: keyword.to_owned(),
            value,
            at,
        });
        Ok(())
    }
}

/// Parses a `postgres://` / `postgresql://` URL or a key=value string.
///
/// A string that is neither (quoted, a URL of another scheme, a URL after whitespace) is
/// refused as what it is rather than read as key=value pairs, whose error would otherwise
/// be about the whole string.
pub(crate) fn parse(text: &str) -> Result<Given, ConnectionError> {
    if let Some(body) = uri_body(text) {
        return Url { text }.parse(body);
    }
    refuse_what_is_not_key_values(text)?;
    parse_key_values(text)
}

/// The text after the URL prefix, when `text` is a URL.
fn uri_body(text: &str) -> Option<&str> {
    text.strip_prefix("postgresql://")
        .or_else(|| text.strip_prefix("postgres://"))
}

/// Refuses a quoted string, whitespace before a URL, and a URL whose scheme is not
/// PostgreSQL's (a key=value string can start with none of these: a keyword is a word
/// followed by `=`).
fn refuse_what_is_not_key_values(text: &str) -> Result<(), ConnectionError> {
    let start = text.len() - text.trim_start().len();
    let rest = &text[start..];
    if rest.starts_with(['"', '\'']) {
        return Err(ConnectionError::syntax(
            "the string starts with a quote: remove the quotes around it (docker --env-file and some .env loaders keep them)",
            start,
        ));
    }
    if !has_scheme(rest) {
        return Ok(());
    }
    if start > 0 && uri_body(rest).is_some() {
        return Err(ConnectionError::syntax(
            "whitespace before the URL: remove it",
            0,
        ));
    }
    Err(ConnectionError::syntax(
        "not a postgres:// or postgresql:// URL (the scheme is misspelt or another engine's, or it is missing before user:password@host); schemagate connects to PostgreSQL only",
        start,
    ))
}

/// Whether `text` starts like a URL: `scheme:` (RFC 3986: a letter, then letters, digits,
/// `+`, `-` or `.`).
fn has_scheme(text: &str) -> bool {
    let mut bytes = text.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.find(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
            == Some(b':')
}

/// A URL being parsed: every part is a slice of `text`, so a part's offset is where it is.
struct Url<'a> {
    text: &'a str,
}

impl Url<'_> {
    /// The byte offset of `part`, a slice of the text.
    fn at(&self, part: &str) -> usize {
        part.as_ptr() as usize - self.text.as_ptr() as usize
    }

    /// `[user[:password]@][host][:port][,...][/dbname][?param=value&...]`.
    fn parse(&self, body: &str) -> Result<Given, ConnectionError> {
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
                    self.set(&mut given, "user", user)?;
                }
                if let Some(password) = password.filter(|p| !p.is_empty()) {
                    self.set(&mut given, "password", password)?;
                }
                &body[at + 1..]
            }
            _ => body,
        };
        let (hosts, ports, rest) = self.split_netlocs(rest)?;
        if hosts.iter().any(|h| !h.is_empty()) || hosts.len() > 1 {
            if let Some((host, i)) = hosts.iter().find_map(|h| Some((h, h.find('@')?))) {
                return Err(ConnectionError::syntax(
                    "a raw \"@\" in the host name (the password or user name holds one): percent-encode it (%40)",
                    self.at(host) + i,
                ));
            }
            let decoded = self.decode_all(&hosts)?;
            given.set("host", decoded, 0, self.at(hosts[0]))?;
        }
        if let Some(first) = ports.iter().find(|p| !p.is_empty()) {
            let decoded = self.decode_all(&ports)?;
            if !decoded.bytes().all(|b| b.is_ascii_digit() || b == b',') {
                return Err(ConnectionError::syntax(
                    "the port is not a number (a \"/\", \"?\" or \",\" in the password ends the host part early): percent-encode it (%2F, %3F, %2C)",
                    self.at(first),
                ));
            }
            given.set("port", decoded, 0, self.at(first))?;
        }
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        if let Some(dbname) = path.strip_prefix('/').filter(|d| !d.is_empty()) {
            if let Some(i) = dbname.find('@') {
                return Err(ConnectionError::syntax(
                    "a raw \"@\" in the database name (a \"/\" in the password ends the host part early): percent-encode it (%40, %2F)",
                    self.at(dbname) + i,
                ));
            }
            self.set(&mut given, "dbname", dbname)?;
        }
        if let Some(query) = query {
            self.parse_query(query, &mut given)?;
        }
        Ok(given)
    }

    /// Sets `keyword` to the decoded `part`.
    fn set(&self, given: &mut Given, keyword: &str, part: &str) -> Result<(), ConnectionError> {
        given.set(keyword, self.decode(part)?, 0, self.at(part))
    }

    /// The parts decoded and joined with commas.
    fn decode_all(&self, parts: &[&str]) -> Result<String, ConnectionError> {
        let decoded: Result<Vec<String>, _> = parts.iter().map(|p| self.decode(p)).collect();
        Ok(decoded?.join(","))
    }

    /// The comma-separated `host[:port]` list (IPv6 addresses in brackets) and what follows
    /// it (`/dbname?…`, `?…` or nothing).
    fn split_netlocs<'t>(
        &self,
        mut rest: &'t str,
    ) -> Result<(Vec<&'t str>, Vec<&'t str>, &'t str), ConnectionError> {
        let mut hosts = Vec::new();
        let mut ports = Vec::new();
        loop {
            let host;
            if let Some(inner) = rest.strip_prefix('[') {
                let bracket = self.at(rest);
                let close = inner.find(']').ok_or(ConnectionError::syntax(
                    "end of string reached when looking for the \"]\" of an IPv6 host address",
                    bracket,
                ))?;
                if close == 0 {
                    return Err(ConnectionError::syntax(
                        "an IPv6 host address may not be empty",
                        bracket,
                    ));
                }
                host = &inner[..close];
                rest = &inner[close + 1..];
                if !rest.is_empty() && !rest.starts_with([':', '/', '?', ',']) {
                    return Err(ConnectionError::syntax(
                        "unexpected character after an IPv6 host address (expected \":\", \"/\", \"?\" or \",\")",
                        self.at(rest),
                    ));
                }
            } else {
                let end = rest.find([':', '/', '?', ',']).unwrap_or(rest.len());
                host = &rest[..end];
                rest = &rest[end..];
            }
            hosts.push(host);
            let mut port = &rest[..0];
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

    /// `key=value&key=value`, each side percent-decoded; `ssl=true` is JDBC's
    /// `sslmode=require`.
    fn parse_query(&self, query: &str, given: &mut Given) -> Result<(), ConnectionError> {
        for pair in query.split('&') {
            if pair.is_empty() {
                continue;
            }
            let (key, value) = pair.split_once('=').ok_or(ConnectionError::syntax(
                "a URL query parameter without \"=\" (key=value)",
                self.at(pair),
            ))?;
            if let Some(i) = value.find('=') {
                return Err(ConnectionError::syntax(
                    "a second \"=\" in a URL query parameter: percent-encode it (%3D)",
                    self.at(value) + i,
                ));
            }
            let decoded_key = self.decode(key)?;
            let decoded = self.decode(value)?;
            if decoded_key == "ssl" && decoded == "true" {
                given.set("sslmode", "require".to_owned(), 0, self.at(value))?;
            } else {
                given.set(&decoded_key, decoded, self.at(key), self.at(value))?;
            }
        }
        Ok(())
    }

    /// libpq's `conninfo_uri_decode`: `%XX` with two hex digits, `%00` forbidden.
    fn decode(&self, part: &str) -> Result<String, ConnectionError> {
        let bytes = part.as_bytes();
        for (i, b) in bytes.iter().enumerate() {
            if *b == b'%' {
                let hex = bytes.get(i + 1..i + 3);
                if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                    return Err(ConnectionError::syntax(
                        "invalid percent-encoded token (write % as %25)",
                        self.at(part) + i,
                    ));
                }
                if hex == Some(b"00") {
                    return Err(ConnectionError::syntax(
                        "forbidden value %00 in a percent-encoded value",
                        self.at(part) + i,
                    ));
                }
            }
        }
        percent_decode_str(part)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| {
                ConnectionError::syntax("a percent-encoded value is not UTF-8", self.at(part))
            })
    }
}

/// `keyword = value ...`: values may be single-quoted; a backslash escapes the next
/// character, quoted or not.
fn parse_key_values(text: &str) -> Result<Given, ConnectionError> {
    let mut given = Given::default();
    let mut chars = text.char_indices().peekable();
    let here = |chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>| {
        chars.peek().map_or(text.len(), |(i, _)| *i)
    };
    loop {
        while chars.next_if(|(_, c)| c.is_ascii_whitespace()).is_some() {}
        let keyword_at = here(&mut chars);
        if keyword_at == text.len() {
            return Ok(given);
        }
        let mut keyword = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| *c != '=' && !c.is_ascii_whitespace()) {
            keyword.push(c);
        }
        while chars.next_if(|(_, c)| c.is_ascii_whitespace()).is_some() {}
        if chars.next_if(|(_, c)| *c == '=').is_none() {
            return Err(ConnectionError::syntax(
                "a word without \"=\" after it (key=value pairs; a value holding spaces must be quoted: password='…')",
                keyword_at,
            ));
        }
        while chars.next_if(|(_, c)| c.is_ascii_whitespace()).is_some() {}
        let value_at = here(&mut chars);
        let mut value = String::new();
        if chars.next_if(|(_, c)| *c == '\'').is_some() {
            loop {
                match chars.next() {
                    None => {
                        return Err(ConnectionError::syntax(
                            "unterminated quoted value",
                            value_at,
                        ));
                    }
                    Some((_, '\\')) => value.extend(chars.next().map(|(_, c)| c)),
                    Some((_, '\'')) => break,
                    Some((_, c)) => value.push(c),
                }
            }
        } else {
            while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_ascii_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next().map(|(_, c)| c));
                } else {
                    value.push(c);
                }
            }
        }
        given.set(&keyword, value, keyword_at, value_at)?;
    }
}

#[cfg(test)]
mod tests {
    use super::super::Connection;
    use super::super::env::Environment;
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text)
            .unwrap()
            .pairs
            .into_iter()
            .map(|p| (p.keyword, p.value))
            .collect()
    }

    /// The error of `text`, which must not parse.
    fn refusal(text: &str) -> String {
        match parse(text) {
            Ok(_) => panic!("{text} parsed"),
            Err(error) => error.to_string(),
        }
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
    fn broken_urls_are_refused_with_the_reason_and_where_it_is() {
        for (url, reason, at) in [
            ("postgres://h/?sslmode", "without \"=\"", 14),
            ("postgres://h/?a=b=c", "a second \"=\"", 17),
            ("postgres://h/?nosuch=1", "unknown connection option", 14),
            ("postgres://u:p%zz@h/", "percent-encoded", 14),
            ("postgres://u:p%00@h/", "%00", 14),
            ("postgres://[::1/db", "IPv6", 11),
            ("postgres://[]/db", "IPv6", 11),
            ("postgres://app:p@ss@db/app", "percent-encode it (%40)", 19),
            (
                "postgres://app:ab/cd@db/app",
                "the port is not a number",
                15,
            ),
            (
                "postgres://app:12/cd@db/app",
                "a raw \"@\" in the database name",
                20,
            ),
        ] {
            let error = refusal(url);
            assert!(error.contains(reason), "{url}: {error}");
            assert!(
                error.contains(&format!("at byte offset {at}")),
                "{url}: {error}"
            );
        }
    }

    #[test]
    fn what_is_not_a_connection_string_is_refused_as_what_it_is() {
        for (text, reason, at) in [
            (
                "\"postgres://app:s3cr%40t@db/app\"",
                "starts with a quote",
                0,
            ),
            ("'host=db'", "starts with a quote", 0),
            (
                " postgres://app:s3cr3t@db/app",
                "whitespace before the URL",
                0,
            ),
            ("postgress://app:s3cr3t@db/app", "not a postgres://", 0),
            ("mysql://app:s3cr3t@db/app", "not a postgres://", 0),
            ("sqlite:/var/db/app.db", "not a postgres://", 0),
            ("app:s3cr3t@db/app", "not a postgres://", 0),
            ("\tPOSTGRES://app@db", "not a postgres://", 1),
        ] {
            let error = refusal(text);
            assert!(error.contains(reason), "{text}: {error}");
            assert!(
                error.contains(&format!("at byte offset {at}")),
                "{text}: {error}"
            );
        }
        assert_eq!(pairs("  host=db"), [p("host", "db")]);
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
    fn broken_key_value_strings_are_refused_with_the_reason_and_where_it_is() {
        for (text, reason, at) in [
            ("host", "without \"=\"", 0),
            ("host=db password='open", "unterminated quoted value", 17),
            ("host=db colour=blue", "unknown connection option", 8),
            ("password=my secret host=db", "must be quoted", 12),
        ] {
            let error = refusal(text);
            assert!(error.contains(reason), "{text}: {error}");
            assert!(
                error.contains(&format!("at byte offset {at}")),
                "{text}: {error}"
            );
        }
    }

    #[test]
    fn no_refusal_shows_the_text_it_refuses() {
        for text in [
            "\"postgres://app:Zq8Wv3Kp@db/app\"",
            "postgress://app:Zq8Wv3Kp@db/app",
            "postgres://app:Zq8W/v3Kp@db/app",
            "postgres://app:Zq8W@v3Kp@db/app",
            "postgres://app:Zq8W@v3Kp@db/app?Zq8W=1",
            "host=db password=Zq8W v3Kp=x",
            "host=db sslmode=Zq8Wv3Kp",
        ] {
            let error = match Connection::parse_in(text, &Environment::empty().os_user("me")) {
                Ok(_) => panic!("{text} parsed"),
                Err(error) => error.to_string(),
            };
            assert!(
                !error.contains("Zq8W") && !error.contains("v3Kp"),
                "{text}: {error}"
            );
        }
    }
}
