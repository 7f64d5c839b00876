/**
 * What an insider with the database's superuser can still do despite the
 * append-only triggers (which fire ALWAYS, whatever session_replication_role
 * says): turn them off for one statement. The tests use it to tamper, delete
 * and truncate, which the signed log and the audit must then expose.
 */

/** `statement` on receipts with its row trigger off, in one transaction. */
export function insiderSql(statement: string): string {
  return `DO $$ BEGIN
    ALTER TABLE receipts DISABLE TRIGGER receipts_append_only;
    ${statement};
    ALTER TABLE receipts ENABLE ALWAYS TRIGGER receipts_append_only;
  END $$`;
}

/** TRUNCATE of one partition, its own TRUNCATE trigger off for the statement. */
export function insiderTruncateSql(partition: string): string {
  return `DO $$ BEGIN
    ALTER TABLE ${partition} DISABLE TRIGGER receipts_no_truncate;
    TRUNCATE ${partition};
    ALTER TABLE ${partition} ENABLE ALWAYS TRIGGER receipts_no_truncate;
  END $$`;
}
