/**
 * `npm run audit --state <dir>`: the largest checkpoint verified per log
 * origin, one file each (the signed note as served), so the next audit can
 * demand that the log only grew since. Written atomically, only after the
 * checkpoint passed every check.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Checkpoint, parseCheckpoint, splitNote } from "../../../tlog/note.ts";

const fileOf = (dir: string, origin: string) => join(dir, `${encodeURIComponent(origin)}.checkpoint`);

export async function keptCheckpoint(dir: string, origin: string): Promise<Checkpoint | null> {
  const note = await readFile(fileOf(dir, origin), "utf8").catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return null;
    throw e;
  });
  if (note === null) return null;
  const checkpoint = parseCheckpoint(splitNote(note)?.text ?? "");
  if (!checkpoint || checkpoint.origin !== origin)
    throw new Error(`${fileOf(dir, origin)} is not a checkpoint of ${origin}`);
  return checkpoint;
}

export async function keepCheckpoint(dir: string, origin: string, note: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const file = fileOf(dir, origin);
  await writeFile(`${file}.tmp`, note);
  await rename(`${file}.tmp`, file);
}
