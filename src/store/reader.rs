//! Read-only access to the store for the API, reports and `verify`. Each reader opens
//! its own read-only connection; WAL mode lets it read while the writer commits.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

use super::writer::{AuditRow, Secret, StoreHandle};
use super::{from_sql_u64, schema, to_sql_u64, Error, DB_FILE};

/// Rows returned by one listing call at most.
pub const MAX_ROWS_PER_CALL: usize = 10_000;

/// One evidence file as the store knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceEntry {
    /// Relative to the evidence root.
    pub path: String,
    pub run_id: u64,
    pub flow_id: u64,
    pub sha256: String,
    pub bytes: u64,
    pub packets: u64,
    pub missing_packets: u64,
    pub created: String,
    /// When retention removed the file.
    pub deleted: Option<String>,
}

/// A read-only connection to a data directory's store.
pub struct StoreReader {
    conn: Connection,
    path: PathBuf,
}

impl StoreReader {
    /// Opens `<data_dir>/store.sqlite` read-only; refuses a missing store or a newer
    /// schema.
    pub fn open(data_dir: &Path) -> Result<StoreReader, Error> {
        let path = data_dir.join(DB_FILE);
        let conn = schema::open_read_only(&path)?;
        Ok(StoreReader { conn, path })
    }

    pub fn schema_version(&self) -> Result<u32, Error> {
        schema::current_version(&self.conn, &self.path)
    }

    /// Highest `seq` in the store (0 if none).
    pub fn last_seq(&self) -> Result<u64, Error> {
        let v: Option<i64> = self
            .conn
            .query_row("SELECT MAX(seq) FROM records", [], |r| r.get(0))
            .map_err(Error::sqlite(&self.path))?;
        Ok(v.map_or(0, from_sql_u64))
    }

    pub fn record_count(&self) -> Result<u64, Error> {
        let v: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM records", [], |r| r.get(0))
            .map_err(Error::sqlite(&self.path))?;
        Ok(from_sql_u64(v))
    }

    /// The canonical line of record `seq` (masked, as in the log).
    pub fn record_line(&self, seq: u64) -> Result<Option<String>, Error> {
        self.conn
            .query_row(
                "SELECT json FROM records WHERE seq = ?1",
                params![to_sql_u64(seq)],
                |r| r.get(0),
            )
            .optional()
            .map_err(Error::sqlite(&self.path))
    }

    /// Records after `after_seq` in order, at most `limit` (capped at
    /// [`MAX_ROWS_PER_CALL`]), optionally of one session.
    pub fn records_after(
        &self,
        after_seq: u64,
        session_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(u64, String)>, Error> {
        let sql = Error::sqlite(&self.path);
        let limit = limit.min(MAX_ROWS_PER_CALL) as i64;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, json FROM records WHERE seq > ?1 \
                 AND (?2 IS NULL OR session_id = ?2) ORDER BY seq LIMIT ?3",
            )
            .map_err(&sql)?;
        let rows = stmt
            .query_map(params![to_sql_u64(after_seq), session_id, limit], |r| {
                Ok((from_sql_u64(r.get(0)?), r.get(1)?))
            })
            .map_err(&sql)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(&sql)
    }

    /// Every evidence file the store knows, oldest first.
    pub fn evidence(&self) -> Result<Vec<EvidenceEntry>, Error> {
        let sql = Error::sqlite(&self.path);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT path, run_id, flow_id, sha256, bytes, packets, missing_packets, created, \
                 deleted FROM evidence ORDER BY created, path",
            )
            .map_err(&sql)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(EvidenceEntry {
                    path: r.get(0)?,
                    run_id: from_sql_u64(r.get(1)?),
                    flow_id: from_sql_u64(r.get(2)?),
                    sha256: r.get(3)?,
                    bytes: from_sql_u64(r.get(4)?),
                    packets: from_sql_u64(r.get(5)?),
                    missing_packets: from_sql_u64(r.get(6)?),
                    created: r.get(7)?,
                    deleted: r.get(8)?,
                })
            })
            .map_err(&sql)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(&sql)
    }

    /// The investigator path: the unmasked PI values of record `seq`. The read is first
    /// written to the audit table through the writer (`who` = `actor`) and waited for;
    /// if the audit entry cannot be committed nothing is returned.
    pub fn secrets(
        &self,
        seq: u64,
        actor: &str,
        audit: &StoreHandle,
    ) -> Result<Vec<Secret>, Error> {
        audit.audit(AuditRow {
            who: actor.to_string(),
            action: "read_secrets".into(),
            target: format!("record:{seq}"),
        })?;
        audit.flush()?;
        let sql = Error::sqlite(&self.path);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT item, pi_type, value FROM record_secrets WHERE seq = ?1 ORDER BY item",
            )
            .map_err(&sql)?;
        let rows = stmt
            .query_map(params![to_sql_u64(seq)], |r| {
                Ok(Secret {
                    item: r.get(0)?,
                    pi_type: r.get(1)?,
                    value: r.get(2)?,
                })
            })
            .map_err(&sql)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(&sql)
    }

    /// The latest audit entries, newest first: (who, at, action, target).
    pub fn audit_entries(
        &self,
        limit: usize,
    ) -> Result<Vec<(String, String, String, String)>, Error> {
        let sql = Error::sqlite(&self.path);
        let mut stmt = self
            .conn
            .prepare("SELECT who, at, action, target FROM audit ORDER BY id DESC LIMIT ?1")
            .map_err(&sql)?;
        let rows = stmt
            .query_map(params![limit.min(MAX_ROWS_PER_CALL) as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .map_err(&sql)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(&sql)
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}
