/** Collects positional parameters while a statement is built: `sql.add(value)` gives `$n`. */
export class SqlParams {
  readonly values: unknown[] = [];

  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;
