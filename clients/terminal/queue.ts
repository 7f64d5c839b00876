/**
 * The offline queue's storage: sales that could not be sent yet, in the order
 * they were made. Pluggable; a JSON file on Node (written to a temporary file
 * and renamed, so a crash never leaves half a queue), memory for tests.
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import type { SaleInput } from "./types.ts";

export type QueuedSale = { idempotencyKey: string; sale: SaleInput; queuedAt: string };

export interface QueueStorage {
  load(): Promise<QueuedSale[]>;
  save(queue: QueuedSale[]): Promise<void>;
}

export class MemoryQueue implements QueueStorage {
  private items: QueuedSale[] = [];
  async load(): Promise<QueuedSale[]> {
    return [...this.items];
  }
  async save(queue: QueuedSale[]): Promise<void> {
    this.items = [...queue];
  }
}

export class FileQueue implements QueueStorage {
  private readonly path: string;
  constructor(path: string) {
    this.path = path;
  }
  async load(): Promise<QueuedSale[]> {
    try {
      return JSON.parse(await readFile(this.path, "utf8")) as QueuedSale[];
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw e;
    }
  }
  async save(queue: QueuedSale[]): Promise<void> {
    const tmp = `${this.path}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(queue));
    await rename(tmp, this.path);
  }
}
