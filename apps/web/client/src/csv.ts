/** A table as a CSV data URL, for tables the app assembles itself (the others come as CSV). */
export function csvHref(header: string[], rows: Array<Array<string | number | undefined | null>>) {
  const cell = (v: string | number | undefined | null) => {
    const text = v === undefined || v === null ? '' : String(v);
    // Quoted, and a leading formula character neutralized for spreadsheets.
    return `"${(/^[=+\-@]/.test(text) ? `'${text}` : text).replace(/"/g, '""')}"`;
  };
  const body = [header, ...rows].map((r) => r.map(cell).join(',')).join('\r\n');
  return `data:text/csv;charset=utf-8,${encodeURIComponent(body)}`;
}
