//! How the driver's errors read in schemagate's messages.

/// One line for a driver error: the server's own `ERROR 1146 (42S02): …` when the server
/// answered, else what failed on the way.
pub(crate) fn describe(error: &mysql_async::Error) -> String {
    match error {
        mysql_async::Error::Server(server) => {
            format!(
                "ERROR {} ({}): {}",
                server.code, server.state, server.message
            )
        }
        other => other.to_string(),
    }
}

/// Whether the session is gone (the server or the network), rather than a statement
/// refused on a live session.
pub(crate) fn connection_lost(error: &mysql_async::Error) -> bool {
    matches!(error, mysql_async::Error::Io(_))
        || matches!(
            error,
            mysql_async::Error::Driver(mysql_async::DriverError::ConnectionClosed)
        )
        || matches!(error, mysql_async::Error::Server(s) if [1053, 1927, 2006, 2013].contains(&s.code))
}
