/**
 * The client's storage, pluggable: a JSON value it loads and saves whole — a
 * JSON file on Node (written to a temporary file and renamed, so a crash never
 * leaves half of it), memory for tests, or anything with the same two methods.
 * It keeps the queue of sales not sent yet and the terminal's offline state
 * (its key, its next terminalSeq, the receipts it signed offline).
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import type { SaleInput } from "./types.ts";

export interface JsonStorage<T> {
  /** Null before the first save. */
  load(): Promise<T | null>;
  save(value: T): Promise<void>;
}

export class MemoryStorage<T> implements JsonStorage<T> {
  private value: string | null = null;
  async load(): Promise<T | null> {
    return this.value === null ? null : (JSON.parse(this.value) as T);
  }
  async save(value: T): Promise<void> {
    this.value = JSON.stringify(value);
  }
}

export class FileStorage<T> implements JsonStorage<T> {
  private readonly path: string;
  constructor(path: string) {
    this.path = path;
  }
  async load(): Promise<T | null> {
    try {
      return JSON.parse(await readFile(this.path, "utf8")) as T;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw e;
    }
  }
  async save(value: T): Promise<void> {
    const tmp = `${this.path}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(value));
    await rename(tmp, this.path);
  }
}

export type QueuedSale = { idempotencyKey: string; sale: SaleInput; queuedAt: string };
export type QueueStorage = JsonStorage<QueuedSale[]>;

/** The queue's storage under the names earlier releases exported. */
export class MemoryQueue extends MemoryStorage<QueuedSale[]> {}
export class FileQueue extends FileStorage<QueuedSale[]> {}
