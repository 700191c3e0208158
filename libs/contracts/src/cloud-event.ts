import { randomUUID } from 'node:crypto';

/** CloudEvents 1.0. On Kafka it travels in binary mode: attributes in `ce_*` headers, data as the value. */
export interface CloudEvent<T = unknown> {
  readonly specversion: '1.0';
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly time: string;
  /** For CareRelay: the referral (or patient, resource) the event is about; also the correlation id. */
  readonly subject?: string;
  readonly datacontenttype: 'application/json';
  /** W3C trace context of the request that caused the event (extension attribute). */
  readonly traceparent?: string;
  readonly data: T;
}

export interface KafkaRecord {
  key: string;
  value: string;
  headers: Record<string, string>;
}

export interface RawKafkaMessage {
  key: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
}

export class CloudEventFormatError extends Error {
  override name = 'CloudEventFormatError';
}

export function newCloudEvent<T>(fields: {
  source: string;
  type: string;
  subject?: string;
  data: T;
  traceparent?: string;
  id?: string;
  time?: Date;
}): CloudEvent<T> {
  return {
    specversion: '1.0',
    id: fields.id ?? randomUUID(),
    source: fields.source,
    type: fields.type,
    time: (fields.time ?? new Date()).toISOString(),
    subject: fields.subject,
    datacontenttype: 'application/json',
    traceparent: fields.traceparent,
    data: fields.data,
  };
}

export function toKafkaRecord(event: CloudEvent, key: string): KafkaRecord {
  const headers: Record<string, string> = {
    ce_specversion: event.specversion,
    ce_id: event.id,
    ce_source: event.source,
    ce_type: event.type,
    ce_time: event.time,
    'content-type': event.datacontenttype,
  };
  if (event.subject) headers.ce_subject = event.subject;
  if (event.traceparent) headers.ce_traceparent = event.traceparent;
  return { key, value: JSON.stringify(event.data), headers };
}

const text = (
  value: Buffer | string | (Buffer | string)[] | undefined | null,
): string | undefined => {
  if (value === undefined || value === null) return undefined;
  const single = Array.isArray(value) ? value[0] : value;
  return single === undefined ? undefined : single.toString();
};

export function headersAsText(message: RawKafkaMessage): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    const asText = text(value);
    if (asText !== undefined) result[name] = asText;
  }
  return result;
}

export function fromKafkaRecord(message: RawKafkaMessage): CloudEvent {
  const headers = headersAsText(message);
  for (const required of ['ce_specversion', 'ce_id', 'ce_source', 'ce_type', 'ce_time']) {
    if (!headers[required]) throw new CloudEventFormatError(`missing header ${required}`);
  }
  if (headers.ce_specversion !== '1.0') {
    throw new CloudEventFormatError(`unsupported ce_specversion ${headers.ce_specversion}`);
  }
  const body = text(message.value);
  if (body === undefined) throw new CloudEventFormatError('empty message value');
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    throw new CloudEventFormatError('message value is not JSON');
  }
  return {
    specversion: '1.0',
    id: headers.ce_id,
    source: headers.ce_source,
    type: headers.ce_type,
    time: headers.ce_time,
    subject: headers.ce_subject,
    datacontenttype: 'application/json',
    traceparent: headers.ce_traceparent,
    data,
  };
}
