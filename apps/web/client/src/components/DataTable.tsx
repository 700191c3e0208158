import { Table } from '@mantine/core';
import type { Key, ReactNode } from 'react';

// Columns are a fixed list for each table (never reordered), so their place is their React key.
export interface Column<Row> {
  header: ReactNode;
  cell: (row: Row) => ReactNode;
}

/**
 * A table of rows under column headers (`scope="col"`, so screen readers announce the column
 * of each cell). With minWidth it scrolls sideways on screens narrower than that, rather than
 * squeezing the columns.
 */
export function DataTable<Row>(props: {
  columns: ReadonlyArray<Column<Row>>;
  rows: readonly Row[];
  rowKey: (row: Row) => Key;
  testId?: string;
  minWidth?: number;
  striped?: boolean;
  highlightOnHover?: boolean;
  /** Attributes of a row's <tr>, e.g. a data-* attribute tests find it by. */
  rowProps?: (row: Row) => Record<`data-${string}`, string>;
}) {
  const { columns, rows, rowKey, rowProps } = props;
  const table = (
    <Table
      striped={props.striped ?? true}
      highlightOnHover={props.highlightOnHover}
      data-testid={props.testId}
    >
      <Table.Thead>
        <Table.Tr>
          {columns.map((c, i) => (
            <Table.Th key={i} scope="col">
              {c.header}
            </Table.Th>
          ))}
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {rows.map((row) => (
          <Table.Tr key={rowKey(row)} {...rowProps?.(row)}>
            {columns.map((c, i) => (
              <Table.Td key={i}>{c.cell(row)}</Table.Td>
            ))}
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
  return props.minWidth === undefined ? (
    table
  ) : (
    <Table.ScrollContainer minWidth={props.minWidth}>{table}</Table.ScrollContainer>
  );
}
