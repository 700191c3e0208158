/** RFC 4180 CSV of flat rows; nested objects are spread as `<key>_<sub>` columns. */
export function toCsv(rows: ReadonlyArray<Record<string, unknown>>): string {
  const flat = rows.map((row) => flatten(row));
  const columns = [...new Set(flat.flatMap((row) => Object.keys(row)))];
  const cell = (value: unknown) => {
    if (value === null || value === undefined) return '';
    const text = String(value);
    // A leading = + - @ would be a formula in a spreadsheet.
    const safe = /^[=+\-@]/.test(text) && !/^-?\d/.test(text) ? `'${text}` : text;
    return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
  };
  return [columns.join(','), ...flat.map((row) => columns.map((c) => cell(row[c])).join(','))]
    .map((line) => `${line}\r\n`)
    .join('');
}

function flatten(row: Record<string, unknown>, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    if (
      value !== null &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      !(value instanceof Date)
    )
      Object.assign(out, flatten(value as Record<string, unknown>, `${prefix}${key}_`));
    else out[`${prefix}${key}`] = value;
  }
  return out;
}
