//! The writer's inserts and updates with their values bound in place.
//!
//! rusqlite binds every text and blob with `SQLITE_TRANSIENT`: SQLite allocates and copies each value
//! (and frees the previous one) before the statement runs. A delivery's two writes bind about fifty
//! values, the raw body among them, and that copying was a sixth of the writer's work per delivery.
//! An [`InPlaceStatement`] binds borrowed values with `SQLITE_STATIC` for one execution: SQLite reads
//! them where they are, and the bindings are cleared before [`InPlaceStatement::execute`] returns, so
//! no pointer outlives the call that lent it.

use std::ffi::{c_int, CStr};
use std::marker::PhantomData;

use rusqlite::{ffi, Connection};

/// A value bound for one execution, borrowed from its owner.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Value<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    Blob(&'a [u8]),
}

/// What can be bound as a [`Value`] (the types the writer stores).
pub(crate) trait Bind {
    fn value(&self) -> Value<'_>;
}

impl Bind for i64 {
    fn value(&self) -> Value<'_> {
        Value::Int(*self)
    }
}

impl Bind for u16 {
    fn value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}

impl Bind for bool {
    fn value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}

impl Bind for str {
    fn value(&self) -> Value<'_> {
        Value::Text(self)
    }
}

impl Bind for String {
    fn value(&self) -> Value<'_> {
        Value::Text(self)
    }
}

impl Bind for [u8] {
    fn value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}

impl Bind for Vec<u8> {
    fn value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}

impl<T: Bind + ?Sized> Bind for &T {
    fn value(&self) -> Value<'_> {
        (**self).value()
    }
}

impl<T: Bind> Bind for Option<T> {
    fn value(&self) -> Value<'_> {
        self.as_ref().map_or(Value::Null, Bind::value)
    }
}

/// The values of one execution, in parameter order: `values![a, b, ...]`.
macro_rules! values {
    ($($v:expr),* $(,)?) => { [$($crate::inplace::Bind::value(&$v)),*] };
}
pub(crate) use values;

/// A prepared statement that runs with borrowed values and returns no rows.
pub(crate) struct InPlaceStatement<'c> {
    stmt: *mut ffi::sqlite3_stmt,
    db: *mut ffi::sqlite3,
    /// Finalized before the connection closes.
    _conn: PhantomData<&'c Connection>,
}

impl<'c> InPlaceStatement<'c> {
    /// Prepares `sql` (one statement) on `conn`, to be kept.
    pub(crate) fn prepare(conn: &'c Connection, sql: &str) -> rusqlite::Result<Self> {
        // SAFETY: the handle is `conn`'s, open for 'c; SQLite reads `sql` within its length and
        // writes the statement pointer, which this value finalizes in `drop`.
        unsafe {
            let db = conn.handle();
            let len = c_int::try_from(sql.len()).map_err(|_| rusqlite::Error::InvalidQuery)?;
            let mut stmt = std::ptr::null_mut();
            let rc = ffi::sqlite3_prepare_v3(
                db,
                sql.as_ptr().cast(),
                len,
                ffi::SQLITE_PREPARE_PERSISTENT as _,
                &mut stmt,
                std::ptr::null_mut(),
            );
            if rc != ffi::SQLITE_OK {
                return Err(error(db, rc));
            }
            if stmt.is_null() {
                return Err(rusqlite::Error::InvalidQuery);
            }
            Ok(InPlaceStatement { stmt, db, _conn: PhantomData })
        }
    }

    /// Runs the statement once with `values`, one per parameter in order; returns the rows changed.
    pub(crate) fn execute(&mut self, values: &[Value<'_>]) -> rusqlite::Result<usize> {
        // SAFETY: `stmt` is live (finalized only in drop). Each value is bound SQLITE_STATIC and
        // stays borrowed for this whole call; the statement is reset and its bindings cleared before
        // returning, so SQLite keeps no pointer to them.
        unsafe {
            let expected = ffi::sqlite3_bind_parameter_count(self.stmt) as usize;
            if values.len() != expected {
                return Err(rusqlite::Error::InvalidParameterCount(values.len(), expected));
            }
            let mut rc = ffi::SQLITE_OK;
            for (i, v) in values.iter().enumerate() {
                let at = i as c_int + 1;
                rc = match *v {
                    Value::Null => ffi::sqlite3_bind_null(self.stmt, at),
                    Value::Int(n) => ffi::sqlite3_bind_int64(self.stmt, at, n),
                    Value::Text(s) => ffi::sqlite3_bind_text64(
                        self.stmt,
                        at,
                        s.as_ptr().cast(),
                        s.len() as u64,
                        ffi::SQLITE_STATIC(),
                        ffi::SQLITE_UTF8 as _,
                    ),
                    Value::Blob(b) => ffi::sqlite3_bind_blob64(
                        self.stmt,
                        at,
                        b.as_ptr().cast(),
                        b.len() as u64,
                        ffi::SQLITE_STATIC(),
                    ),
                };
                if rc != ffi::SQLITE_OK {
                    break;
                }
            }
            let result = if rc != ffi::SQLITE_OK {
                Err(error(self.db, rc))
            } else {
                match ffi::sqlite3_step(self.stmt) {
                    ffi::SQLITE_DONE => Ok(ffi::sqlite3_changes64(self.db) as usize),
                    ffi::SQLITE_ROW => Err(rusqlite::Error::ExecuteReturnedResults),
                    rc => Err(error(self.db, rc)),
                }
            };
            ffi::sqlite3_reset(self.stmt);
            ffi::sqlite3_clear_bindings(self.stmt);
            result
        }
    }
}

impl Drop for InPlaceStatement<'_> {
    fn drop(&mut self) {
        // SAFETY: prepared on a connection that outlives this value ('c); finalized once.
        unsafe {
            ffi::sqlite3_finalize(self.stmt);
        }
    }
}

/// The connection's error for `rc`, with SQLite's message.
///
/// # Safety
/// `db` is an open connection handle.
unsafe fn error(db: *mut ffi::sqlite3, rc: c_int) -> rusqlite::Error {
    // SAFETY: per this function's contract; SQLite's message is a NUL-terminated string it owns.
    let message = unsafe {
        let msg = ffi::sqlite3_errmsg(db);
        (!msg.is_null()).then(|| CStr::from_ptr(msg).to_string_lossy().into_owned())
    };
    let code = unsafe { ffi::sqlite3_extended_errcode(db) };
    rusqlite::Error::SqliteFailure(ffi::Error::new(if code != 0 { code } else { rc }), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Row = (i64, Option<String>, Option<Vec<u8>>, String);

    fn conn() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (a INTEGER, b TEXT, c BLOB, d TEXT NOT NULL)").unwrap();
        conn
    }

    #[test]
    fn values_are_stored_as_rusqlite_would_store_them() {
        let conn = conn();
        let mut insert =
            InPlaceStatement::prepare(&conn, "INSERT INTO t (a, b, c, d) VALUES (?1, ?2, ?3, ?4)").unwrap();
        let body: Vec<u8> = (0..=255).collect();
        let text = String::from("héllo \u{0}world");
        assert_eq!(insert.execute(&values![42i64, text, body, "d"]).unwrap(), 1);
        let (none, empty): (Option<String>, Vec<u8>) = (None, Vec::new());
        assert_eq!(insert.execute(&values![true, none, empty, ""]).unwrap(), 1);
        let rows: Vec<Row> = conn
            .prepare("SELECT a, b, c, d FROM t ORDER BY rowid")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(rows[0], (42, Some(text), Some(body), "d".into()));
        assert_eq!(rows[1], (1, None, Some(Vec::new()), String::new()), "an empty blob is not NULL");
    }

    #[test]
    fn a_failing_execution_is_an_error_and_the_statement_runs_again() {
        let conn = conn();
        let mut insert = InPlaceStatement::prepare(&conn, "INSERT INTO t (a, d) VALUES (?1, ?2)").unwrap();
        let none: Option<&str> = None;
        let err = insert.execute(&values![1i64, none]).unwrap_err();
        assert!(err.to_string().contains("NOT NULL"), "{err}");
        assert!(matches!(
            insert.execute(&values![1i64]).unwrap_err(),
            rusqlite::Error::InvalidParameterCount(1, 2)
        ));
        assert_eq!(insert.execute(&values![2i64, "ok"]).unwrap(), 1);
        assert!(InPlaceStatement::prepare(&conn, "INSERT INTO missing VALUES (1)").is_err());
        assert!(
            InPlaceStatement::prepare(&conn, "SELECT 1").unwrap().execute(&[]).is_err(),
            "rows are refused"
        );
    }
}
