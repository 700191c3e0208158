import { isDatabaseUnavailable, isInfrastructureError } from './infrastructure-error';

const pgError = (code: string) => Object.assign(new Error('x'), { code, severity: 'FATAL' });
const typeormError = (code: string) =>
  Object.assign(new Error('query failed'), { name: 'QueryFailedError', driverError: { code } });

describe('database unavailability', () => {
  it.each([
    ['admin shutdown', pgError('57P01')],
    ['cannot connect now (starting up)', pgError('57P03')],
    ['too many connections', pgError('53300')],
    ['connection failure class 08', typeormError('08006')],
    ['refused socket', new Error('connect ECONNREFUSED 127.0.0.1:5432')],
    ['terminated connection', new Error('Connection terminated unexpectedly')],
    ['pool connect timeout', new Error('timeout exceeded when trying to connect')],
  ])('%s is unavailability (503) and worth retrying', (_what, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
    expect(isInfrastructureError(error)).toBe(true);
  });

  it.each([
    ['serialization failure', pgError('40001')],
    ['deadlock', typeormError('40P01')],
  ])('%s is worth retrying but not unavailability', (_what, error) => {
    expect(isInfrastructureError(error)).toBe(true);
    expect(isDatabaseUnavailable(error)).toBe(false);
  });

  it.each([
    ['unique violation', pgError('23505')],
    ['bad input syntax', typeormError('22P02')],
    ['a plain bug', new TypeError('cannot read properties of undefined')],
    ['a non-error', 'boom'],
  ])('%s is neither', (_what, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
    expect(isInfrastructureError(error)).toBe(false);
  });
});
