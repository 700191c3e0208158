import { safeErrorStack, safeErrorText } from './safe-error';

describe('safeErrorText', () => {
  it('keeps a database error to its SQLSTATE and names, never its message or parameters', () => {
    const driverError = Object.assign(new Error('Key (name)=(Jane Doe) already exists.'), {
      code: '23505',
      constraint: 'patients_name_key',
      table: 'patients',
    });
    const error = Object.assign(new Error(driverError.message), {
      name: 'QueryFailedError',
      driverError,
      query: 'INSERT …',
      parameters: ['Jane Doe', '1961-02-03'],
    });
    expect(safeErrorText(error)).toBe('database error 23505 (patients_name_key, patients)');
    expect(safeErrorStack(error)).not.toMatch(/Jane|1961/);
    const pgError = Object.assign(new Error('invalid input syntax for type date: "1961"'), {
      code: '22007',
      severity: 'ERROR',
    });
    expect(safeErrorText(pgError)).toBe('database error 22007');
  });

  it('keeps other errors as name and message', () => {
    expect(safeErrorText(new TypeError('x is undefined'))).toBe('TypeError: x is undefined');
    expect(safeErrorText('text')).toBe('non-error thrown (string)');
  });
});
