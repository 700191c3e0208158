type CsvCell = string | number | undefined | null;

/** A table as a CSV data URL, for tables the app assembles itself (the others come as CSV). */
export function csvHref(header: string[], rows: CsvCell[][]) {
  const cell = (v: CsvCell) => {
    const text = v === undefined || v === null ? '' : String(v);
    // Quoted, and a leading formula character neutralized for spreadsheets.
    return `"${(/^[=+\-@]/.test(text) ? `'${text}` : text).replace(/"/g, '""')}"`;
  };
  const body = [header, ...rows].map((r) => r.map(cell).join(',')).join('\r\n');
  return `data:text/csv;charset=utf-8,${encodeURIComponent(body)}`;
}

/** csvHref of a list once it has loaded; none while loading, nor for the message of a failure. */
export function csvOfList<Item>(
  list: Item[] | string | undefined,
  header: string[],
  row: (item: Item) => CsvCell[],
) {
  return Array.isArray(list) ? csvHref(header, list.map(row)) : undefined;
}
