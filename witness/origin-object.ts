/**
 * One Durable Object per log origin: the latest checkpoint the witness
 * cosigned for it, in the object's SQLite. A swap is one synchronous
 * statement, so checking the size it expects and storing the new checkpoint
 * cannot interleave with another request.
 */
import { DurableObject } from "cloudflare:workers";
import { type Answer, addCheckpoint, type Cosigned, type OriginState } from "./add-checkpoint.ts";
import { type WitnessEnv, witnessSetup } from "./setup.ts";

type Row = { size: number; root: ArrayBuffer; note: string };

export class WitnessedOrigin extends DurableObject<WitnessEnv> {
  private readonly state: OriginState;

  constructor(ctx: DurableObjectState, env: WitnessEnv) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS latest (
      id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL, root BLOB NOT NULL, note TEXT NOT NULL)`);
    this.state = {
      latest: () => {
        const row = sql.exec<Row>("SELECT size, root, note FROM latest WHERE id = 1").toArray()[0];
        return row ? { size: row.size, root: new Uint8Array(row.root), note: row.note } : null;
      },
      swap: (expected: number | null, next: Cosigned) => {
        const current = sql.exec<{ size: number }>("SELECT size FROM latest WHERE id = 1").toArray()[0]?.size ?? null;
        if (current !== expected) return false;
        sql.exec(
          "INSERT INTO latest (id, size, root, note) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET size = excluded.size, root = excluded.root, note = excluded.note",
          next.size,
          next.root,
          next.note,
        );
        return true;
      },
    };
  }

  async add(body: string): Promise<Answer> {
    const { logs, cosigner } = await witnessSetup(this.env);
    return addCheckpoint(body, {
      logs,
      cosigner,
      state: this.state,
      now: () => Math.floor(Date.now() / 1000),
      onMisbehaviour: (what) => console.warn(JSON.stringify({ msg: "refused an inconsistent checkpoint", ...what })),
    });
  }

  /** The latest cosigned note, or null if this origin never had one. */
  latest(): string | null {
    return this.state.latest()?.note ?? null;
  }
}
