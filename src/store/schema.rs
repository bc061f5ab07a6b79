//! The SQLite schema and its migrations.
//!
//! `schema_version` holds one row per migration applied. Opening a store applies, in one
//! transaction each, every migration in [`MIGRATIONS`] above the highest version found,
//! and refuses a store whose version is above the highest this build knows (a newer
//! leaktap wrote it; an older one must not guess at its meaning). Migrations are only
//! ever appended: a released migration is never edited.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::{now_rfc3339, Error, BUSY_TIMEOUT_MS};

/// One schema change.
pub struct Migration {
    pub version: u32,
    pub description: &'static str,
    pub sql: &'static str,
}

/// Every migration, in version order.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    description: "initial schema",
    sql: r#"
-- Each start of the daemon: flow ids are unique within a run only.
CREATE TABLE runs (
    run_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    started   TEXT NOT NULL,
    version   TEXT NOT NULL,
    resume    TEXT NOT NULL            -- what startup reconciliation did (JSON)
);

-- Test sessions (no identifier values: those stay in the session files).
CREATE TABLE sessions (
    session_id  TEXT PRIMARY KEY,
    device_name TEXT NOT NULL,
    app_name    TEXT NOT NULL,
    app_package TEXT NOT NULL,
    started     TEXT,
    ended       TEXT,
    json        TEXT NOT NULL
);

-- Timeline events of sessions (consent granted, withdrawn, ...).
CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id  TEXT NOT NULL,
    ts          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    source      TEXT NOT NULL,         -- file, api
    created     TEXT NOT NULL
);
CREATE INDEX events_session ON events (session_id, ts);

CREATE TABLE flows (
    run_id        INTEGER NOT NULL,
    flow_id       INTEGER NOT NULL,
    community_id  TEXT NOT NULL,
    session_id    TEXT,
    src_ip        TEXT NOT NULL,
    src_port      INTEGER NOT NULL,
    dst_ip        TEXT NOT NULL,
    dst_port      INTEGER NOT NULL,
    proto         TEXT NOT NULL,
    app_proto     TEXT NOT NULL,
    host          TEXT,
    first_ts      TEXT NOT NULL,
    last_ts       TEXT NOT NULL,
    packets       INTEGER NOT NULL,
    bytes         INTEGER NOT NULL,
    PRIMARY KEY (run_id, flow_id)
);
CREATE INDEX flows_session ON flows (session_id);

-- Every sealed record; json is the exact canonical line of the record log.
CREATE TABLE records (
    seq         INTEGER PRIMARY KEY,
    ts          TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    session_id  TEXT,
    flow_id     INTEGER,
    json        TEXT NOT NULL,
    hash        TEXT NOT NULL,
    prev_hash   TEXT NOT NULL
);
CREATE INDEX records_session ON records (session_id, seq);
CREATE INDEX records_flow ON records (flow_id);
CREATE INDEX records_type ON records (event_type, seq);

-- Unmasked PI values of records: read only through the audited investigator path.
CREATE TABLE record_secrets (
    seq      INTEGER NOT NULL,
    item     INTEGER NOT NULL,          -- index into the record's pi[]
    pi_type  TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (seq, item)
);

-- finding records, indexed by rule.
CREATE TABLE findings (
    seq         INTEGER PRIMARY KEY,
    session_id  TEXT,
    rule        TEXT NOT NULL,
    severity    TEXT NOT NULL,
    refs        TEXT NOT NULL           -- JSON array of seq
);
CREATE INDEX findings_session ON findings (session_id, rule);

-- Finished evidence files; path is relative to <data-dir>/evidence.
CREATE TABLE evidence (
    path            TEXT PRIMARY KEY,
    run_id          INTEGER NOT NULL,
    flow_id         INTEGER NOT NULL,
    sha256          TEXT NOT NULL,
    bytes           INTEGER NOT NULL,
    packets         INTEGER NOT NULL,
    missing_packets INTEGER NOT NULL,
    reason          TEXT NOT NULL,      -- ended, capped
    created         TEXT NOT NULL,
    deleted         TEXT,               -- when retention removed it
    delete_reason   TEXT
);
CREATE INDEX evidence_flow ON evidence (run_id, flow_id);

-- Who did what: investigator reads of secrets, session changes through the API.
CREATE TABLE audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    who     TEXT NOT NULL,
    at      TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL
);
"#,
}];

/// The highest schema version this build knows.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Opens (creating if needed) the database read-write with the writer's settings, and
/// brings its schema up to date.
pub fn open_writable(path: &Path) -> Result<Connection, Error> {
    let err = Error::sqlite(path);
    let conn = Connection::open(path).map_err(&err)?;
    restrict_permissions(path);
    conn.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS))
        .map_err(&err)?;
    // WAL: readers never block the writer; NORMAL: see the module documentation.
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))
        .map_err(&err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(mode = %mode, "SQLite did not switch to WAL mode.");
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(&err)?;
    migrate(&conn, path)?;
    Ok(conn)
}

/// Opens the database read-only (for readers and `verify`); refuses a missing store or a
/// newer schema.
pub fn open_read_only(path: &Path) -> Result<Connection, Error> {
    if !path.exists() {
        return Err(Error::Missing {
            path: path.to_path_buf(),
        });
    }
    let err = Error::sqlite(path);
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(&err)?;
    conn.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS))
        .map_err(&err)?;
    let found = current_version(&conn, path)?;
    if found > latest_version() {
        return Err(Error::SchemaTooNew {
            path: path.to_path_buf(),
            found,
            supported: latest_version(),
        });
    }
    Ok(conn)
}

/// The highest version in `schema_version`, 0 for an empty database.
pub fn current_version(conn: &Connection, path: &Path) -> Result<u32, Error> {
    let err = Error::sqlite(path);
    let exists: Option<String> = conn
        .query_row(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .optional()
        .map_err(&err)?;
    if exists.is_none() {
        return Ok(0);
    }
    let version: Option<i64> = conn
        .query_row("SELECT MAX(version) FROM schema_version", [], |row| {
            row.get(0)
        })
        .map_err(&err)?;
    Ok(version.map_or(0, |v| u32::try_from(v).unwrap_or(u32::MAX)))
}

/// Applies every migration above the current version.
pub fn migrate(conn: &Connection, path: &Path) -> Result<(), Error> {
    let err = Error::sqlite(path);
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
            version     INTEGER PRIMARY KEY,
            applied     TEXT NOT NULL,
            description TEXT NOT NULL
        )",
    )
    .map_err(&err)?;
    let found = current_version(conn, path)?;
    if found > latest_version() {
        return Err(Error::SchemaTooNew {
            path: path.to_path_buf(),
            found,
            supported: latest_version(),
        });
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > found) {
        let tx = conn.unchecked_transaction().map_err(&err)?;
        tx.execute_batch(m.sql).map_err(&err)?;
        tx.execute(
            "INSERT INTO schema_version (version, applied, description) VALUES (?1, ?2, ?3)",
            rusqlite::params![m.version, now_rfc3339(), m.description],
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)?;
        tracing::info!(version = m.version, "Applied store migration.");
    }
    Ok(())
}

/// The store holds unmasked PI (`record_secrets`): only its owner may read the file.
fn restrict_permissions(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
}
