import { Fhir } from 'fhir';
import type { Resource } from '@medplum/fhirtypes';
import { badRequest } from './operation-outcome';

/** The XML media types of FHIR R4 (the FHIR one first: it names what this server produces). */
export const FHIR_XML_MEDIA_TYPES = ['application/fhir+xml', 'application/xml', 'text/xml'];

let converter: Fhir | undefined;

/** FHIR.js's R4 converter: its structure definitions are parsed once (about 0.1 s), on first use. */
function fhir(): Fhir {
  converter ??= new Fhir();
  return converter;
}

const COMMENT = /<!--[\s\S]*?-->/g;
const DECLARATIONS = /<\?[\s\S]*?\?>/g;
const START_TAG = /<[A-Za-z_][^\s/>]*/g;

/** How many elements an XML text opens, once comments and processing instructions are left out. */
function elementCount(xml: string): number {
  return (xml.replace(COMMENT, '').replace(DECLARATIONS, '').match(START_TAG) ?? []).length;
}

/**
 * A FHIR R4 XML resource as FHIR JSON, or a 400 that says why not. The converter maps each
 * element it knows from the R4 definitions and drops any other, so the resource is serialized back
 * and an element that did not survive (unknown, misplaced or without a value) is refused, as an
 * unknown JSON property is. A document type declaration is refused before parsing: FHIR XML has
 * none, and no entity (external or internal) is ever expanded. Comments are not resource content.
 */
export function fhirXmlToJson(xml: string): Resource {
  if (/<!DOCTYPE/i.test(xml) || /<!ENTITY/i.test(xml))
    throw badRequest('FHIR XML takes no document type declaration (DTD)', undefined, 'structure');
  const text = xml.replace(COMMENT, '');
  let resource: Resource | undefined;
  try {
    // xmlToJson (unlike xmlToObj) writes decimals as JSON numbers, keeping their digits.
    const json = fhir().xmlToJson(text) as string | undefined;
    resource = json === undefined ? undefined : (JSON.parse(json) as Resource);
  } catch (error) {
    throw badRequest(
      // The parser's first line says what is wrong; its "but got: <value>" echo is left out.
      `Malformed FHIR XML: ${String((error as Error).message ?? error)
        .split('\n')[0]
        .replace(/ but got:.*$/, '')
        .slice(0, 200)}`,
      undefined,
      'structure',
    );
  }
  if (!resource || typeof resource !== 'object' || typeof resource.resourceType !== 'string')
    throw badRequest('FHIR XML must hold exactly one resource element', undefined, 'structure');
  if (elementCount(fhirJsonToXml(resource)) < elementCount(text))
    throw badRequest(
      `The ${resource.resourceType} XML has elements that are unknown, misplaced or without a value`,
      undefined,
      'structure',
    );
  return resource;
}

/** A FHIR JSON resource as FHIR R4 XML (with its XML declaration). */
export function fhirJsonToXml(resource: Resource): string {
  return fhir().objToXml(resource);
}
