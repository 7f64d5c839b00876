/**
 * Administration, called by the tenant API: stores and terminal credentials.
 * Token hashes live here, next to the issuer, so a revocation takes effect on
 * the very next request.
 */
import type { ShardTables, StoreInfo } from "./tables.ts";

export class ShardAdmin {
  private readonly tables: ShardTables;
  /** Tenants the operator disabled: read on every issue, so kept in memory (a handful of rows). */
  readonly disabled: Set<string>;

  constructor(tables: ShardTables) {
    this.tables = tables;
    this.disabled = new Set(tables.disabledTenants());
  }

  /** Takes effect for the very next request. */
  setTenantDisabled(tenantId: string, disabled: boolean): void {
    this.tables.setTenantDisabled(tenantId, disabled);
    if (disabled) this.disabled.add(tenantId);
    else this.disabled.delete(tenantId);
  }

  upsertStore(store: StoreInfo): void {
    this.tables.upsertStore(store);
  }

  /**
   * Stores a terminal's token hash. Postgres decides whether the id is new (the
   * tenant API inserts there first), so this replaces whatever the shard had for
   * that id: a retry after a lost reply, or a registration whose Postgres row was
   * rolled back, must not leave the id unusable. The old token stops working.
   * Carries the store too, so a store whose own upsert never reached the shard
   * is created here.
   */
  registerTerminal(store: StoreInfo, t: { terminalId: string; tokenHash: string; publicKey: string | null }): void {
    if (!this.tables.storeHead(store.tenantId, store.storeId)) this.tables.upsertStore(store);
    this.tables.putTerminal({ tenantId: store.tenantId, storeId: store.storeId, ...t });
  }

  /** Takes effect for the very next request. False when no such terminal. */
  revokeTerminal(t: { tenantId: string; storeId: string; terminalId: string }, now: number): boolean {
    return this.tables.revokeTerminal(t, now);
  }
}
