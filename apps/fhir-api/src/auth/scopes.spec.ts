import {
  grantScopes,
  INTERACTIONS,
  Interaction,
  parseScope,
  permissionString,
  requiredScope,
  roleAllows,
  rolePermissions,
  scopeAllows,
  scopesSupported,
  splitScopes,
  SUPPORTED_RESOURCE_TYPES,
} from './scopes';

const allows = (scopes: string[], type: string, ...interactions: Interaction[]) =>
  interactions.map((i) => scopeAllows(scopes, type, i));

describe('parseScope', () => {
  it.each([
    ['system/Task.cruds', 'Task', 'cruds', 2],
    ['system/*.rs', '*', 'rs', 2],
    ['system/Procedure.cu', 'Procedure', 'cu', 2],
    ['system/Task.r', 'Task', 'r', 2],
    ['system/Task.read', 'Task', 'rs', 1],
    ['system/Task.write', 'Task', 'cud', 1],
    ['system/Task.*', 'Task', 'cruds', 1],
    ['system/*.*', '*', 'cruds', 1],
  ])('%s', (raw, type, perms, version) => {
    const scope = parseScope(raw);
    expect(scope).not.toBeNull();
    expect(scope!.resourceType).toBe(type);
    expect(permissionString(scope!.permissions)).toBe(perms);
    expect(scope!.version).toBe(version);
  });

  it.each([
    'patient/Task.rs',
    'user/*.read',
    'system/Task.',
    'system/Task',
    'system/Task.sr', // v2 letters out of order
    'system/Task.rr',
    'system/Task.x',
    'system/Task.rs?status=requested', // granular scopes are not supported
    'system/task.rs',
    'openid',
    'launch/patient',
    '',
    'system/Task.Read',
    ' system/Task.rs',
  ])('rejects %j', (raw) => {
    expect(parseScope(raw)).toBeNull();
  });
});

describe('splitScopes', () => {
  it('splits on any whitespace and drops duplicates and empties', () => {
    expect(splitScopes('  system/Task.rs\tsystem/*.read\n system/Task.rs ')).toEqual([
      'system/Task.rs',
      'system/*.read',
    ]);
    expect(splitScopes(undefined)).toEqual([]);
    expect(splitScopes(['a', 'a', ' '])).toEqual(['a']);
  });
});

describe('scopeAllows', () => {
  it('maps v2 letters to interactions', () => {
    expect(allows(['system/Task.r'], 'Task', 'read', 'vread', 'history')).toEqual([
      true,
      true,
      true,
    ]);
    expect(allows(['system/Task.r'], 'Task', 'search', 'history-type', 'create')).toEqual([
      false,
      false,
      false,
    ]);
    expect(allows(['system/Task.s'], 'Task', 'search', 'history-type', 'read')).toEqual([
      true,
      true,
      false,
    ]);
    expect(allows(['system/Task.c'], 'Task', 'create', 'update')).toEqual([true, false]);
    expect(allows(['system/Task.u'], 'Task', 'update', 'patch', 'delete')).toEqual([
      true,
      true,
      false,
    ]);
    expect(allows(['system/Task.d'], 'Task', 'delete', 'read')).toEqual([true, false]);
  });

  it('v1 read means r+s and write means c+u+d', () => {
    const read = ['system/Observation.read'];
    expect(allows(read, 'Observation', 'read', 'vread', 'search', 'history')).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(allows(read, 'Observation', 'create', 'update', 'delete')).toEqual([
      false,
      false,
      false,
    ]);
    const write = ['system/Observation.write'];
    expect(allows(write, 'Observation', 'create', 'update', 'delete')).toEqual([true, true, true]);
    expect(allows(write, 'Observation', 'read', 'search')).toEqual([false, false]);
  });

  it('a wildcard type covers every type, a named one only itself', () => {
    expect(scopeAllows(['system/*.rs'], 'AuditEvent', 'search')).toBe(true);
    expect(scopeAllows(['system/*.rs'], 'Patient', 'create')).toBe(false);
    expect(scopeAllows(['system/Task.cruds'], 'ServiceRequest', 'read')).toBe(false);
    expect(scopeAllows(['system/Task.cruds'], 'TaskX', 'read')).toBe(false);
  });

  it('any one scope suffices; unknown scopes grant nothing', () => {
    expect(scopeAllows(['openid', 'system/Task.c', 'system/Task.s'], 'Task', 'search')).toBe(true);
    expect(scopeAllows(['patient/*.cruds', 'user/Task.cruds'], 'Task', 'read')).toBe(false);
    expect(scopeAllows([], 'Task', 'read')).toBe(false);
    expect(scopeAllows(['system/Task.cruds'], 'Task', 'operate' as Interaction)).toBe(false);
  });

  it('every interaction of system/*.cruds is allowed on every type', () => {
    for (const type of SUPPORTED_RESOURCE_TYPES) {
      for (const interaction of INTERACTIONS) {
        expect(scopeAllows(['system/*.cruds'], type, interaction)).toBe(true);
        expect(scopeAllows(['system/*.*'], type, interaction)).toBe(true);
      }
    }
  });

  it('names the missing scope in v2 syntax', () => {
    expect(requiredScope('Task', 'update')).toBe('system/Task.u');
    expect(requiredScope('AuditEvent', 'search')).toBe('system/AuditEvent.s');
  });
});

describe('role policies', () => {
  it('ehr writes referral resources, reads the directory and outcomes, never AuditEvent', () => {
    for (const type of ['Task', 'ServiceRequest', 'Patient', 'Consent', 'Condition']) {
      expect(permissionString(rolePermissions('ehr', type))).toBe('cruds');
    }
    expect(permissionString(rolePermissions('ehr', 'Procedure'))).toBe('rs');
    expect(permissionString(rolePermissions('ehr', 'HealthcareService'))).toBe('rs');
    expect(rolePermissions('ehr', 'AuditEvent').size).toBe(0);
  });

  it('cbo reads most, updates Task, creates outcomes, never deletes or sees AuditEvent', () => {
    expect(roleAllows('cbo', 'Task', 'update')).toBe(true);
    expect(roleAllows('cbo', 'Task', 'create')).toBe(false);
    expect(roleAllows('cbo', 'Task', 'delete')).toBe(false);
    expect(roleAllows('cbo', 'Patient', 'read')).toBe(true);
    expect(roleAllows('cbo', 'Patient', 'update')).toBe(false);
    for (const type of ['Procedure', 'Observation', 'DocumentReference']) {
      expect(roleAllows('cbo', type, 'create')).toBe(true);
      expect(roleAllows('cbo', type, 'delete')).toBe(false);
    }
    expect(roleAllows('cbo', 'AuditEvent', 'search')).toBe(false);
    expect(roleAllows('cbo', 'AuditEvent', 'read')).toBe(false);
  });

  it('coordinator reads everything, AuditEvent included, and writes nothing', () => {
    for (const type of SUPPORTED_RESOURCE_TYPES) {
      expect(permissionString(rolePermissions('coordinator', type))).toBe('rs');
    }
  });

  it('platform does everything except writing AuditEvents', () => {
    expect(permissionString(rolePermissions('platform', 'Task'))).toBe('cruds');
    expect(permissionString(rolePermissions('platform', 'AuditEvent'))).toBe('rs');
  });

  it('unsupported types get nothing', () => {
    expect(rolePermissions('platform', 'Claim').size).toBe(0);
    expect(rolePermissions('coordinator', '*').size).toBe(0);
  });
});

describe('grantScopes (requested ∩ allowed for the role)', () => {
  it('keeps fully allowed scopes verbatim', () => {
    expect(grantScopes('system/Task.cruds system/Patient.read', 'ehr')).toEqual({
      granted: ['system/Task.cruds', 'system/Patient.read'],
      dropped: [],
    });
    expect(grantScopes('system/*.rs', 'coordinator').granted).toEqual(['system/*.rs']);
    expect(grantScopes('system/*.read', 'coordinator').granted).toEqual(['system/*.read']);
  });

  it('narrows a partly allowed scope per type', () => {
    expect(grantScopes('system/Task.cruds', 'cbo').granted).toEqual(['system/Task.rus']);
    expect(grantScopes('system/Procedure.write', 'cbo').granted).toEqual(['system/Procedure.cu']);
    expect(grantScopes('system/*.cruds', 'coordinator').granted).toEqual(
      SUPPORTED_RESOURCE_TYPES.map((t) => `system/${t}.rs`),
    );
  });

  it('expands a wildcard to the types the role may use, leaving out the rest', () => {
    const { granted } = grantScopes('system/*.rs', 'ehr');
    expect(granted).toContain('system/Task.rs');
    expect(granted).toContain('system/Procedure.rs');
    expect(granted.some((s) => s.startsWith('system/AuditEvent'))).toBe(false);
    expect(scopeAllows(granted, 'AuditEvent', 'search')).toBe(false);

    const cbo = grantScopes('system/*.rs', 'cbo').granted;
    expect(scopeAllows(cbo, 'Patient', 'read')).toBe(true);
    expect(scopeAllows(cbo, 'AuditEvent', 'read')).toBe(false);
  });

  it('drops what grants nothing and what is not understood', () => {
    expect(grantScopes('system/AuditEvent.rs system/Claim.rs openid', 'ehr')).toEqual({
      granted: [],
      dropped: ['system/AuditEvent.rs', 'system/Claim.rs', 'openid'],
    });
    expect(grantScopes('system/Task.d', 'cbo').granted).toEqual([]);
  });

  it('does not repeat permissions another granted scope already covers', () => {
    expect(grantScopes('system/Task.rs system/Task.cruds', 'cbo').granted).toEqual([
      'system/Task.rs',
      'system/Task.u',
    ]);
  });

  it('never grants more than the role allows (exhaustive over types and interactions)', () => {
    const everything = 'system/*.cruds system/*.* ' + scopesSupported().join(' ');
    for (const role of ['ehr', 'cbo', 'coordinator', 'platform'] as const) {
      const { granted } = grantScopes(everything, role);
      for (const type of SUPPORTED_RESOURCE_TYPES) {
        for (const interaction of INTERACTIONS) {
          expect([role, type, interaction, scopeAllows(granted, type, interaction)]).toEqual([
            role,
            type,
            interaction,
            roleAllows(role, type, interaction),
          ]);
        }
      }
    }
  });
});
