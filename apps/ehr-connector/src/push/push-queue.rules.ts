import { EventTypes, type CloudEvent, type FhirResourceChangedV1 } from '@carerelay/contracts';
import { namesEhrTask } from '../fhir/ehr-identity';

/**
 * FHIR changes the push queue passes over, told from the event alone: anything but an update of
 * a Task with its resource that names an EHR Task of its own, the only changes it pushes (a CBO
 * Task's updates are not).
 */
export const ignoredByPushQueue = (event: CloudEvent): boolean => {
  if (event.type !== EventTypes.fhirResourceChanged.type) return false;
  const change = event.data as FhirResourceChangedV1;
  return (
    change.resourceType !== 'Task' ||
    change.action !== 'update' ||
    !change.resource ||
    !namesEhrTask(change.resource)
  );
};
