/**
 * The requirements CareRelay answers for as the IG's Coordination Platform, once: the SHALL and
 * SHOULD entries of the SDOHCC-CoordinationPlatform CapabilityStatement (STU 3, `rest` of mode
 * `server`), the ehr-connector's task-4 and the privacy rules. capability-conformance.int-spec.ts
 * checks the `claims` and writes docs/conformance-report.md from them.
 */

export type IgLevel = 'SHALL' | 'SHOULD';

export interface Requirement {
  id: string;
  level: IgLevel;
  /** The resource type of the CapabilityStatement entry, or `system`, `security`, `privacy`. */
  type: string;
  text: string;
  /** The conformance test's claims (its `expectStatus` names) that must all pass in the run. */
  claims?: string[];
  /** The test that proves it when the conformance test does not observe it itself. */
  provenBy?: string;
  /** Another test that also exercises it. */
  alsoBy?: string;
}

export const CONFORMANCE_TEST = 'apps/fhir-api/test/capability-conformance.int-spec.ts';

/** The claim recorded when a resource claiming `profile` (a StructureDefinition id) is created and read back claiming it. */
export const profileClaim = (type: string, profile: string) => `profile ${type} ${profile}`;

export const REQUIREMENTS: readonly Requirement[] = [
  {
    id: 'cp-careteam-read',
    level: 'SHALL',
    type: 'CareTeam',
    text: 'read',
    claims: ['CareTeam read'],
  },
  {
    id: 'cp-careteam-profile',
    level: 'SHALL',
    type: 'CareTeam',
    text: 'profile `us-core-careteam` (no IG example: a US Core 7.0.0 instance)',
    claims: ['profile CareTeam us-core-careteam'],
  },
  {
    id: 'cp-condition-read-search',
    level: 'SHALL',
    type: 'Condition',
    text: 'read, search-type',
    claims: ['Condition read', 'Condition search-type'],
  },
  {
    id: 'cp-condition-profile',
    level: 'SHALL',
    type: 'Condition',
    text: 'profile `SDOHCC-Condition`',
    claims: ['profile Condition SDOHCC-Condition'],
  },
  {
    id: 'cp-consent-read-search',
    level: 'SHALL',
    type: 'Consent',
    text: 'read, search-type',
    claims: ['Consent read', 'Consent search-type'],
  },
  {
    id: 'cp-consent-include',
    level: 'SHOULD',
    type: 'Consent',
    text: '`_include=Consent:source-reference:DocumentReference`',
    claims: ['Consent _include=Consent:source-reference:DocumentReference'],
  },
  {
    id: 'cp-consent-profile',
    level: 'SHALL',
    type: 'Consent',
    text: 'profile `SDOHCC-Consent`',
    claims: ['profile Consent SDOHCC-Consent'],
  },
  {
    id: 'cp-device-read',
    level: 'SHALL',
    type: 'Device',
    text: 'read',
    claims: ['Device read'],
  },
  {
    id: 'cp-device-search',
    level: 'SHOULD',
    type: 'Device',
    text: 'search-type',
    claims: ['Device search-type'],
  },
  {
    id: 'cp-device-profile',
    level: 'SHALL',
    type: 'Device',
    text: 'profile: base Device (`profile` of the entry; the test creates one)',
    claims: ['Device create'],
  },
  {
    id: 'cp-documentreference-interactions',
    level: 'SHALL',
    type: 'DocumentReference',
    text: 'create, read, search-type',
    claims: ['DocumentReference create', 'DocumentReference read', 'DocumentReference search-type'],
  },
  {
    id: 'cp-documentreference-update',
    level: 'SHOULD',
    type: 'DocumentReference',
    text: 'update',
    claims: ['DocumentReference update'],
  },
  {
    id: 'cp-documentreference-profile',
    level: 'SHALL',
    type: 'DocumentReference',
    text: 'profile `us-core-documentreference` (no IG example: a US Core 7.0.0 instance)',
    claims: ['profile DocumentReference us-core-documentreference'],
  },
  {
    id: 'cp-goal-read-search',
    level: 'SHALL',
    type: 'Goal',
    text: 'read, search-type',
    claims: ['Goal read', 'Goal search-type'],
  },
  {
    id: 'cp-goal-profile',
    level: 'SHALL',
    type: 'Goal',
    text: 'profile `SDOHCC-Goal`',
    claims: ['profile Goal SDOHCC-Goal'],
  },
  {
    id: 'cp-group-read-search',
    level: 'SHALL',
    type: 'Group',
    text: 'read, search-type',
    claims: ['Group read', 'Group search-type'],
  },
  {
    id: 'cp-group-include',
    level: 'SHALL',
    type: 'Group',
    text: '`_include=Group:member`',
    claims: ['Group _include=Group:member'],
  },
  {
    id: 'cp-group-profile',
    level: 'SHALL',
    type: 'Group',
    text: "profile `SDOHCC-Group` (the IG's example, from its source)",
    claims: ['profile Group SDOHCC-Group'],
  },
  {
    id: 'cp-healthcareservice-read',
    level: 'SHALL',
    type: 'HealthcareService',
    text: 'read',
    claims: ['HealthcareService read'],
  },
  {
    id: 'cp-healthcareservice-search',
    level: 'SHOULD',
    type: 'HealthcareService',
    text: 'search-type',
    claims: ['HealthcareService search-type'],
  },
  {
    id: 'cp-healthcareservice-include',
    level: 'SHALL',
    type: 'HealthcareService',
    text: '`_include=HealthcareService:location`',
    claims: ['HealthcareService _include=HealthcareService:location'],
  },
  {
    id: 'cp-healthcareservice-profile',
    level: 'SHALL',
    type: 'HealthcareService',
    text: "profile `SDOHCC-HealthcareService` (the IG's example, from its source; `SDOHCC-HealthcareServiceForReferralManagement` listed too)",
    claims: ['profile HealthcareService SDOHCC-HealthcareService'],
  },
  {
    id: 'cp-location-read',
    level: 'SHALL',
    type: 'Location',
    text: 'read',
    claims: ['Location read'],
  },
  {
    id: 'cp-location-profile',
    level: 'SHALL',
    type: 'Location',
    text: 'profile `SDOHCC-Location`',
    claims: ['profile Location SDOHCC-Location'],
  },
  {
    id: 'cp-observation-read-search',
    level: 'SHALL',
    type: 'Observation',
    text: 'read, search-type',
    claims: ['Observation read', 'Observation search-type'],
  },
  {
    id: 'cp-observation-profiles',
    level: 'SHALL',
    type: 'Observation',
    text: "profiles `SDOHCC-ObservationAssessment`, `SDOHCC-ObservationScreeningResponse` (the IG's examples, from its source)",
    claims: [
      'profile Observation SDOHCC-ObservationAssessment',
      'profile Observation SDOHCC-ObservationScreeningResponse',
    ],
  },
  {
    id: 'cp-organization-read',
    level: 'SHALL',
    type: 'Organization',
    text: 'read',
    claims: ['Organization read'],
  },
  {
    id: 'cp-organization-profile',
    level: 'SHALL',
    type: 'Organization',
    text: 'profile `us-core-organization` 7.0.0',
    claims: ['profile Organization us-core-organization'],
  },
  {
    id: 'cp-patient-read-search',
    level: 'SHALL',
    type: 'Patient',
    text: 'read, search-type',
    claims: ['Patient read', 'Patient search-type'],
  },
  {
    id: 'cp-patient-profile',
    level: 'SHALL',
    type: 'Patient',
    text: 'profile `us-core-patient` 7.0.0',
    claims: ['profile Patient us-core-patient'],
  },
  {
    id: 'cp-practitioner-read-search',
    level: 'SHALL',
    type: 'Practitioner',
    text: 'read, search-type',
    claims: ['Practitioner read', 'Practitioner search-type'],
  },
  {
    id: 'cp-practitioner-profile',
    level: 'SHALL',
    type: 'Practitioner',
    text: 'profile `us-core-practitioner` 7.0.0',
    claims: ['profile Practitioner us-core-practitioner'],
  },
  {
    id: 'cp-practitionerrole-read-search',
    level: 'SHALL',
    type: 'PractitionerRole',
    text: 'read, search-type',
    claims: ['PractitionerRole read', 'PractitionerRole search-type'],
  },
  {
    id: 'cp-practitionerrole-include',
    level: 'SHOULD',
    type: 'PractitionerRole',
    text: '`_include=PractitionerRole:organization`, `PractitionerRole:practitioner`',
    claims: [
      'PractitionerRole _include=PractitionerRole:organization',
      'PractitionerRole _include=PractitionerRole:practitioner',
    ],
  },
  {
    id: 'cp-practitionerrole-profile',
    level: 'SHALL',
    type: 'PractitionerRole',
    text: 'profile `SDOHCC-practitionerrole`',
    claims: ['profile PractitionerRole SDOHCC-practitionerrole'],
  },
  {
    id: 'cp-procedure-interactions',
    level: 'SHALL',
    type: 'Procedure',
    text: 'create, update, read, search-type',
    claims: ['Procedure create', 'Procedure update', 'Procedure read', 'Procedure search-type'],
  },
  {
    id: 'cp-procedure-profile',
    level: 'SHALL',
    type: 'Procedure',
    text: 'profile `SDOHCC-Procedure`',
    claims: ['profile Procedure SDOHCC-Procedure'],
  },
  {
    id: 'cp-questionnaire-read',
    level: 'SHALL',
    type: 'Questionnaire',
    text: 'read',
    claims: ['Questionnaire read'],
    alsoBy: 'apps/fhir-api/test/ig-resource-types.int-spec.ts',
  },
  {
    id: 'cp-questionnaire-profile',
    level: 'SHALL',
    type: 'Questionnaire',
    text: "profile `sdc-questionnaire-extr-smap` (the IG's Hunger Vital Sign example, from its source)",
    claims: ['profile Questionnaire sdc-questionnaire-extr-smap'],
  },
  {
    id: 'cp-questionnaireresponse-read',
    level: 'SHALL',
    type: 'QuestionnaireResponse',
    text: 'read',
    claims: ['QuestionnaireResponse read'],
  },
  {
    id: 'cp-questionnaireresponse-interactions',
    level: 'SHOULD',
    type: 'QuestionnaireResponse',
    text: 'create, update, search-type',
    claims: [
      'QuestionnaireResponse create',
      'QuestionnaireResponse update',
      'QuestionnaireResponse search-type',
    ],
  },
  {
    id: 'cp-questionnaireresponse-profile',
    level: 'SHALL',
    type: 'QuestionnaireResponse',
    text: "profile `sdc-questionnaireresponse` (the IG's Hunger Vital Sign example, from its source)",
    claims: ['profile QuestionnaireResponse sdc-questionnaireresponse'],
  },
  {
    id: 'cp-relatedperson-read',
    level: 'SHALL',
    type: 'RelatedPerson',
    text: 'read',
    claims: ['RelatedPerson read'],
  },
  {
    id: 'cp-relatedperson-profile',
    level: 'SHALL',
    type: 'RelatedPerson',
    text: 'profile: base RelatedPerson (`profile` of the entry; the test creates one)',
    claims: ['RelatedPerson create'],
  },
  {
    id: 'cp-servicerequest-read-search',
    level: 'SHALL',
    type: 'ServiceRequest',
    text: 'read, search-type',
    claims: ['ServiceRequest read', 'ServiceRequest search-type'],
  },
  {
    id: 'cp-servicerequest-include',
    level: 'SHOULD',
    type: 'ServiceRequest',
    text: "`_include` `supporting-info`, `patient`, `pertains-to-goal` (the IG's SearchParameter, indexed), `requester`, `performer`",
    claims: [
      'ServiceRequest _include=ServiceRequest:supporting-info',
      'ServiceRequest _include=ServiceRequest:patient',
      'ServiceRequest _include=ServiceRequest:pertains-to-goal',
      'ServiceRequest _include=ServiceRequest:requester',
      'ServiceRequest _include=ServiceRequest:performer',
    ],
    alsoBy: 'apps/fhir-api/test/search-reverse-chains.int-spec.ts',
  },
  {
    id: 'cp-servicerequest-profile',
    level: 'SHALL',
    type: 'ServiceRequest',
    text: 'profile `SDOHCC-ServiceRequest`',
    claims: ['profile ServiceRequest SDOHCC-ServiceRequest'],
  },
  {
    id: 'cp-subscription-interactions',
    level: 'SHOULD',
    type: 'Subscription',
    text: 'create, `$status`',
    claims: ['Subscription create', 'Subscription $status'],
    alsoBy: 'apps/fhir-api/src/subscriptions/subscriptions.int-spec.ts',
  },
  {
    id: 'cp-subscription-profile',
    level: 'SHALL',
    type: 'Subscription',
    text: 'profile `backport-subscription`',
    claims: ['profile Subscription backport-subscription'],
  },
  {
    id: 'cp-task-interactions',
    level: 'SHALL',
    type: 'Task',
    text: 'create, update, read, search-type; `versioning = versioned-update` (update with `If-Match`)',
    claims: ['Task create', 'Task update', 'Task read', 'Task search-type'],
  },
  {
    id: 'cp-task-include',
    level: 'SHALL',
    type: 'Task',
    text: '`_include=Task:focus`, `Task:output`',
    claims: ['Task _include=Task:focus', 'Task _include=Task:output'],
  },
  {
    id: 'cp-task-profiles',
    level: 'SHALL',
    type: 'Task',
    text: 'profiles `SDOHCC-TaskForPatient`, `SDOHCC-TaskForReferralManagement`',
    claims: ['profile Task SDOHCC-TaskForPatient', 'profile Task SDOHCC-TaskForReferralManagement'],
  },
  {
    id: 'cp-task-conditional-read',
    level: 'SHALL',
    type: 'Task',
    text: '`conditionalRead = modified-since` (listed as `full-support`: `If-None-Match` and `If-Modified-Since` answer 304)',
    claims: ['Task conditionalRead (If-None-Match)', 'Task conditionalRead (If-Modified-Since)'],
  },
  {
    id: 'cp-system-batch',
    level: 'SHOULD',
    type: 'system',
    text: 'batch',
    claims: ['system batch'],
  },
  {
    id: 'cp-security-smart',
    level: 'SHALL',
    type: 'security',
    text: 'SMART-on-FHIR (SMART Backend Services)',
    provenBy: 'apps/fhir-api/test/auth-wiring.int-spec.ts',
  },
  {
    id: 'task-4',
    level: 'SHALL',
    type: 'Task (client)',
    text: "EHR Task changes from the EHR's Backport Subscription, rest-hook: ehr-connector `/ehr-notifications/<id>`; id-only, full-resource; gaps → catch-up pull",
    provenBy: 'test/integration/ehr-connector/subscription-notify.int-spec.ts',
  },
  {
    id: 'priv-1',
    level: 'SHALL',
    type: 'privacy',
    text: "A CBO sees a referral's patient data only while a consent in force (active, within its period) permits disclosure to it or to the whole network, and no deny stops it",
    provenBy: 'apps/fhir-api/test/consent-visibility.int-spec.ts',
  },
  {
    id: 'priv-2',
    level: 'SHALL',
    type: 'privacy',
    text: 'Data labelled in `meta.security` with `42CFRPart2`, `ETH`, `PSY`, `HIV`, `STD`, `SDV`, `SEX`, `R` or `V` is disclosed only when a permit covering that label applies to the recipient',
    provenBy: 'apps/fhir-api/test/consent-labels.int-spec.ts',
    alsoBy: 'libs/consent/src/disclosure.spec.ts',
  },
  {
    id: 'priv-3',
    level: 'SHALL',
    type: 'privacy',
    text: 'A purpose-limited permit (`provision.purpose`) counts only for a request of that purpose of use',
    provenBy: 'apps/fhir-api/test/consent-labels.int-spec.ts',
    alsoBy: 'apps/fhir-api/src/auth/token-request.spec.ts',
  },
  {
    id: 'priv-4',
    level: 'SHALL',
    type: 'privacy',
    text: 'A deny scoped by `provision.securityLabel` withholds only the data carrying such a label; one scoped by `provision.purpose` only for that purpose',
    provenBy: 'apps/fhir-api/test/consent-labels.int-spec.ts',
    alsoBy: 'libs/consent/src/disclosure.spec.ts',
  },
  {
    id: 'priv-5',
    level: 'SHALL',
    type: 'privacy',
    text: 'Withheld data does not reveal itself',
    provenBy: 'apps/fhir-api/test/consent-labels.int-spec.ts',
  },
  {
    id: 'priv-6',
    level: 'SHALL',
    type: 'privacy',
    text: 'Data disclosed under 42 CFR Part 2 carries the prohibition on redisclosure (§2.32)',
    provenBy: 'apps/fhir-api/test/consent-labels.int-spec.ts',
  },
  {
    id: 'priv-7',
    level: 'SHALL',
    type: 'privacy',
    text: 'Each disclosure decision is audited',
    provenBy: 'apps/fhir-api/test/consent-labels.int-spec.ts',
    alsoBy: 'apps/fhir-api/src/audit/audit.spec.ts',
  },
  {
    id: 'priv-8',
    level: 'SHALL',
    type: 'privacy',
    text: 'Deciding costs no query per resource',
    provenBy: 'apps/fhir-api/src/store/disclosure.spec.ts',
  },
];

/** The SHALL supportedProfiles of the IG's Coordination Platform, by type (StructureDefinition ids). */
export const IG_SHALL_PROFILES: Record<string, string[]> = {};
for (const requirement of REQUIREMENTS)
  if (requirement.level === 'SHALL')
    for (const claim of requirement.claims ?? []) {
      const [kind, type, profile] = claim.split(' ');
      if (kind === 'profile') (IG_SHALL_PROFILES[type] ??= []).push(profile);
    }

export type Verdict = 'met' | 'not met' | 'elsewhere';

/** Met when every claim of the requirement was checked in this run and none failed. */
export function verdictOf(
  requirement: Requirement,
  outcomes: ReadonlyMap<string, boolean>,
): Verdict {
  if (!requirement.claims) return 'elsewhere';
  return requirement.claims.every((claim) => outcomes.get(claim) === true) ? 'met' : 'not met';
}

/** docs/conformance-report.md (unformatted markdown) from one run's outcomes and failure messages. */
export function conformanceReport(
  outcomes: ReadonlyMap<string, boolean>,
  failures: readonly string[],
  date: string,
): string {
  const verdicts = REQUIREMENTS.map((r) => ({ r, verdict: verdictOf(r, outcomes) }));
  const count = (predicate: (v: (typeof verdicts)[number]) => boolean) =>
    verdicts.filter(predicate).length;
  const met = count((v) => v.verdict === 'met');
  const notMet = verdicts.filter((v) => v.verdict === 'not met');
  const shallNotMet = notMet.filter((v) => v.r.level === 'SHALL');
  const elsewhere = count((v) => v.verdict === 'elsewhere');
  const lines = [
    '<!-- Generated by apps/fhir-api/test/capability-conformance.int-spec.ts: do not edit, run the test. -->',
    '',
    '# Conformance report: IG Coordination Platform requirements',
    '',
    `Generated by \`${CONFORMANCE_TEST}\` on ${date}, from the requirements in`,
    '`apps/fhir-api/test/coordination-platform.requirements.ts`. Do not edit: run the test again.',
    'The IG gives the entries of its CapabilityStatement no ids: the `cp-<type>-<aspect>` ids are',
    "CareRelay's, one per entry and aspect; `task-4` and `priv-*` are those of",
    "[conformance.md](conformance.md) (`priv-*` are CareRelay's privacy rules, held as SHALL).",
    '"met": every check of it passed in this run; "not met": one failed or did not run;',
    '"proven elsewhere": this test does not observe it, the named test does.',
    '',
    `- Requirements: ${REQUIREMENTS.length}`,
    `- Met in this run: ${met}`,
    `- Not met: ${notMet.length}`,
    `- SHALL not met: ${shallNotMet.length}`,
    `- Proven by another test (not run here): ${elsewhere}`,
    '',
    '| id | level | requirement | verdict | proven by |',
    '| --- | --- | --- | --- | --- |',
    ...verdicts.map(({ r, verdict }) => {
      const where = r.provenBy ?? CONFORMANCE_TEST;
      const proof = [where, r.alsoBy]
        .filter(Boolean)
        .map((file) => `\`${file}\``)
        .join('; ');
      const shown = verdict === 'elsewhere' ? `proven by \`${where}\`` : verdict;
      const subject = ['system', 'security', 'privacy', 'Task (client)'].includes(r.type)
        ? ''
        : `${r.type}: `;
      return `| ${r.id} | ${r.level} | ${subject}${r.text} | ${shown} | ${proof} |`;
    }),
    '',
    '## Not met',
    '',
  ];
  if (notMet.length === 0) lines.push('Every requirement checked in this run is met.');
  for (const { r } of notMet) {
    const failed = (r.claims ?? []).filter((c) => outcomes.get(c) !== true);
    lines.push(`- ${r.id} (${r.level}):`);
    for (const claim of failed) {
      const why = failures.find((f) => f.startsWith(claim));
      const reason = !outcomes.has(claim)
        ? 'not checked in this run'
        : (why?.slice(claim.length).replace(/^:\s*/, '') ?? 'failed');
      lines.push(`  - \`${claim}\`: ${reason.slice(0, 200).replaceAll('`', "'")}`);
    }
  }
  return lines.join('\n') + '\n';
}
