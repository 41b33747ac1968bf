//! The fleet (issue 16, DESIGN §14) against PostgreSQL, through the binary (the table,
//! admission and the refresh are the crate's own tests, beside the code).
//!
//! - [`table`]: a fleet table a replica made before any gate is not taken for the user's
//!   schema.
//! - [`deploy`]: real `serve` replicas and `migrate` Jobs of two releases in a rolling
//!   deploy: refusal, `--fleet-wait`, background migration, widening, staleness,
//!   `--ignore-fleet`, and a Job's failure seen by a serving replica.

mod deploy;
mod table;
