/**
 * A receipt from the archive (docs/archive.md): the code's shard and counter
 * lead, through Postgres's index of objects, to one Parquet object in R2; its
 * footer (kept by the isolate: objects never change) to one row group; one
 * ranged read to the record. Verify, the receipt page and the webhooks'
 * checks read archived days through it.
 */
import type { FileMetaData } from "hyparquet";
import { findInObject, type ParquetFile, readFooter } from "../../core/archive.ts";
import { objectsForCounter } from "../../db/archive.ts";
import type { Db } from "../../db/client.ts";
import { findNames, type PersistedReceipt } from "../../db/receipts.ts";
import { describeError } from "../../kit/describe-error.ts";
import type { Env } from "../env.ts";
import { logger } from "../request-context.ts";

const FOOTERS_MAX = 256;
const footers = new Map<string, FileMetaData>();

class ArchiveObjectMissing extends Error {}
/** R2 did not answer: the caller answers 503, never a verdict. */
class ArchiveUnreachable extends Error {}

/** An R2 object as ranged reads. */
function r2File(bucket: R2Bucket, key: string, byteLength: number): ParquetFile {
  return {
    byteLength,
    async slice(start, end = byteLength) {
      const got = await bucket.get(key, { range: { offset: start, length: end - start } }).catch((e: unknown) => {
        throw new ArchiveUnreachable(`R2 get ${key}`, { cause: e });
      });
      if (!got) throw new ArchiveObjectMissing(`archive object ${key} is missing`);
      // A body that breaks off is R2 not answering, not an unreadable object.
      return got.arrayBuffer().catch((e: unknown) => {
        throw new ArchiveUnreachable(`R2 read ${key}`, { cause: e });
      });
    },
  };
}

/** The receipt at `counter` in one object; its footer kept by the isolate unless `fresh`. */
async function readObject(file: ParquetFile, key: string, counter: number, fresh: boolean) {
  let footer = fresh ? undefined : footers.get(key);
  if (!footer) {
    footer = await readFooter(file);
    if (footers.size >= FOOTERS_MAX) footers.delete(footers.keys().next().value as string);
    footers.set(key, footer);
  }
  return findInObject(file, counter, footer);
}

/**
 * The archived receipt with this shard, counter and code, with display names;
 * null when no archived object holds it: its object is gone or no longer
 * reads as Parquet (then the log shows the receipt as missing). Throws
 * ArchiveUnreachable when R2 does not answer.
 */
export async function findArchived(
  env: Env,
  db: Db,
  parts: { shard: number; counter: number; code: string },
): Promise<PersistedReceipt | null> {
  for (const o of await objectsForCounter(db, parts.shard, parts.counter)) {
    const file = r2File(env.ARCHIVE, o.key, o.bytes);
    const found = await readObject(file, o.key, parts.counter, false)
      // A kept footer may not be this object's any more (objects never change, unless someone changed one).
      .catch(() => readObject(file, o.key, parts.counter, true))
      .catch((e: unknown) => {
        if (e instanceof ArchiveUnreachable) throw e;
        logger.error({ msg: "archive object unreadable", key: o.key, error: describeError(e) });
        return null;
      });
    if (found?.record.code !== parts.code) continue;
    const names = await findNames(db, found.record.tenantId, found.record.storeId);
    return { record: found.record, hash: found.hash, predecessorHash: null, ...names };
  }
  return null;
}
